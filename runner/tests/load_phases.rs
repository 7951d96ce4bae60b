//! The `load.phases` section: every shape parses into its phase, and every
//! mistake is reported with its position and the fix.

use std::time::Duration;

use runner::scenario::{
    self, Diagnostics, Drain, LengthDist, Overflow, Overrides, PhaseKind, Scenario, SearchOver,
    SweepOver,
};
use runner::schedule::Process;

const HEAD: &str = "target: { mock: {} }\ndataset: { path: prompts.txt }\n";

fn check(load: &str) -> Result<Scenario, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prompts.txt"), "你好\n").unwrap();
    std::fs::write(
        dir.path().join("trace.jsonl"),
        "{\"offset_ms\": 0, \"input_len\": 5}\n",
    )
    .unwrap();
    let text = format!("{HEAD}{load}");
    scenario::from_str(&text, &dir.path().join("s.yaml"), &Overrides::default())
}

fn errors(load: &str) -> String {
    match check(load) {
        Ok(s) => panic!("expected errors, got {:?}", s.load),
        Err(d) => d.to_string(),
    }
}

#[test]
fn every_shape_parses() {
    let s = check(
        r#"load:
  duration: 20s
  pause: 0s
  drain: cancel
  phases:
    - users: [1, 8]
      stagger: 2s
      warmup: true
      requests: 50
    - ramp: { from: 1, to: 64, steps: 4 }
      duration: 60s
    - rate: 20
      arrival: constant
      max_in_flight: 8
      overflow: queue
    - rate: [10, 100]
      arrival: gamma
      burstiness: 0.5
    - replay: trace.jsonl
      speed: 2
    - sweep: { rates: [5, 10] }
    - sweep: { rates: auto, points: 3, saturate_users: 32 }
    - sweep: { users: [2, 4] }
    - search: { over: users, max: 256, precision: 0.1, min_good: 0.9 }
    - search: {}
slo: { ttft: 2s }
"#,
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let l = &s.load;
    assert_eq!(l.drain, Drain::Cancel);
    assert_eq!(l.phases.len(), 10);
    let p = &l.phases[0];
    assert!(p.warmup);
    assert_eq!(p.requests, Some(50));
    assert_eq!(p.duration, None, "requests alone end the step");
    assert_eq!(
        p.kind,
        PhaseKind::Users {
            levels: vec![1, 8],
            stagger: Duration::from_secs(2)
        }
    );
    assert_eq!(
        l.phases[1].kind,
        PhaseKind::Ramp {
            from: 1,
            to: 64,
            steps: Some(4)
        }
    );
    assert_eq!(l.phases[1].duration, Some(Duration::from_secs(60)));
    match &l.phases[2].kind {
        PhaseKind::Rate { from, to, open } => {
            assert_eq!((*from, *to), (20.0, 20.0));
            assert_eq!(open.process, Process::Constant);
            assert_eq!(open.cap, Some(8));
            assert_eq!(open.overflow, Overflow::Queue);
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(
        l.phases[2].duration,
        Some(Duration::from_secs(20)),
        "load.duration is the default"
    );
    match &l.phases[3].kind {
        PhaseKind::Rate { from, to, open } => {
            assert_eq!((*from, *to), (10.0, 100.0));
            assert_eq!(open.process, Process::Gamma(0.5));
        }
        k => panic!("{k:?}"),
    }
    match &l.phases[4].kind {
        PhaseKind::Replay { path, speed, .. } => {
            assert!(path.ends_with("trace.jsonl"));
            assert_eq!(*speed, 2.0);
        }
        k => panic!("{k:?}"),
    }
    assert!(
        matches!(&l.phases[5].kind, PhaseKind::Sweep { over: SweepOver::Rates(r), .. } if r == &vec![5.0, 10.0])
    );
    assert!(matches!(
        &l.phases[6].kind,
        PhaseKind::Sweep {
            over: SweepOver::Auto {
                points: 3,
                lowest: None,
                saturate_users: 32
            },
            ..
        }
    ));
    assert!(
        matches!(&l.phases[7].kind, PhaseKind::Sweep { over: SweepOver::Users(u), .. } if u == &vec![2, 4])
    );
    match &l.phases[8].kind {
        PhaseKind::Search(s) => {
            assert_eq!(s.over, SearchOver::Users);
            assert_eq!((s.max, s.precision, s.min_good), (256.0, 0.1, 0.9));
        }
        k => panic!("{k:?}"),
    }
    match &l.phases[9].kind {
        PhaseKind::Search(s) => {
            assert_eq!(s.over, SearchOver::Rate);
            assert_eq!(
                (s.start, s.max, s.precision, s.min_good),
                (1.0, 1024.0, 0.05, 0.95)
            );
            assert_eq!(s.open.process, Process::Poisson);
        }
        k => panic!("{k:?}"),
    }
}

#[test]
fn the_default_drain_waits_up_to_the_total_timeout() {
    let s = check("load: { phases: [{ rate: 5 }] }\n").unwrap();
    assert_eq!(s.load.drain, Drain::Wait(Duration::from_secs(600)));
    assert!(!s.load.early_stop, "phases are not the original's ramp");
    let s = check("load: { drain: wait, drain_timeout: 5s, phases: [{ rate: 5 }] }\n").unwrap();
    assert_eq!(s.load.drain, Drain::Wait(Duration::from_secs(5)));
    let s = check("load: { think_ms: { dist: uniform, min: 500, max: 3000 } }\n").unwrap();
    assert_eq!(
        s.load.think_ms,
        Some(LengthDist::Uniform {
            min: 500,
            max: 3000
        })
    );
    assert!(
        errors("load: { think_ms: { dist: uniform, min: 0, max: 3 } }\n")
            .contains("`load.think_ms.min` must be at least 1")
    );
}

#[test]
fn mistakes_are_reported_with_their_place_and_fix() {
    let e = errors("load:\n  phases:\n    - { rate: 5, users: [2] }\n");
    assert!(
        e.contains("s.yaml:5:7: error: phase 0 names users and rate"),
        "{e}"
    );
    assert!(e.contains("split it into one phase per shape"), "{e}");

    let e = errors("load:\n  phases:\n    - { duration: 5s }\n");
    assert!(e.contains("phase 0 names no load"), "{e}");

    let e = errors("load:\n  phases:\n    - { rate: 5, stagger: 1s }\n");
    assert!(
        e.contains("`stagger` does not apply to a `rate` phase"),
        "{e}"
    );

    let e = errors("load:\n  phases:\n    - { rate: 5, arrival: poisson, burstiness: 2 }\n");
    assert!(
        e.contains("`burstiness` is set but `arrival` is not `gamma`"),
        "{e}"
    );

    let e = errors("load:\n  phases:\n    - { rate: 0 }\n");
    assert!(e.contains("`rate` must be above 0"), "{e}");

    let e = errors("load:\n  phases:\n    - { rate: [1, 2, 3] }\n");
    assert!(e.contains("`rate` lists 3 values"), "{e}");

    let e = errors("load:\n  phases:\n    - { rate: [1, 10], requests: 100 }\n");
    assert!(e.contains("a rate ramp needs a `duration`"), "{e}");

    let e = errors("load:\n  phases:\n    - { ramp: { from: 4, to: 4 } }\n");
    assert!(e.contains("a constant count is a `users` phase"), "{e}");

    let e = errors("load:\n  phases:\n    - { replay: missing.jsonl }\n");
    assert!(e.contains("trace file") && e.contains("not found"), "{e}");

    let e = errors("load:\n  phases:\n    - { sweep: { rates: [1], users: [2] } }\n");
    assert!(e.contains("both or neither of `rates` and `users`"), "{e}");

    let e = errors("load:\n  phases:\n    - { sweep: { rates: fast } }\n");
    assert!(e.contains("rates"), "{e}");

    let e = errors("load:\n  phases:\n    - { sweep: { rates: [5], points: 3 } }\n");
    assert!(e.contains("`points` applies only to `rates: auto`"), "{e}");

    let e = errors("load:\n  phases:\n    - { search: {} }\n");
    assert!(e.contains("a `search` phase needs objectives"), "{e}");

    let e = errors("slo: { ttft: 1s }\nload:\n  phases:\n    - { search: { precision: 2 } }\n");
    assert!(e.contains("`search.precision` is 2"), "{e}");

    let e = errors("load:\n  phases:\n    - { rate: 5, overflow: queue }\n");
    assert!(
        e.contains("`overflow` is set without `max_in_flight`"),
        "{e}"
    );

    let e = errors("load:\n  levels: [1]\n  phases: [{ rate: 5 }]\n");
    assert!(
        e.contains("`load.levels` and `load.phases` are both given"),
        "{e}"
    );

    let e = errors("load:\n  phases:\n    - { rat: 5 }\n");
    assert!(
        e.contains("rat") && e.contains("rate"),
        "an unknown key suggests the near one: {e}"
    );

    let e = errors("load:\n  phases: []\n");
    assert!(e.contains("`load.phases` is empty"), "{e}");
}

#[test]
fn the_original_flags_replace_phases() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prompts.txt"), "你好\n").unwrap();
    let text = format!("{HEAD}load: {{ phases: [{{ rate: 5 }}] }}\n");
    let ov = Overrides {
        test_runs: Some(vec![2, 3]),
        ..Overrides::default()
    };
    let s = scenario::from_str(&text, &dir.path().join("s.yaml"), &ov).unwrap();
    assert_eq!(s.load.phases.len(), 1);
    assert!(
        matches!(&s.load.phases[0].kind, PhaseKind::Users { levels, .. } if levels == &vec![2, 3])
    );
    assert!(s.load.early_stop);
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            // Hosted-API examples name their key as `${env:...}`: an unset
            // variable is the only problem allowed here.
            if let Err(d) = scenario::load(&path, &Overrides::default()) {
                let shown = d.to_string();
                assert!(
                    d.iter()
                        .all(|x| x.to_string().contains("environment variable")),
                    "{}: {shown}",
                    path.display()
                );
            }
            seen += 1;
        }
    }
    assert!(
        seen >= 10,
        "only {seen} scenarios found in {}",
        dir.display()
    );
}
