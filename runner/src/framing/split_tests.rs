//! Split-invariance: a body cut into reads at any points frames exactly as
//! the same body pushed whole. Each stream of a fixed corpus is cut at every
//! single point, into single bytes, and at seeded random multi-point cuts.

use super::{Frame, Framer, FramingError, FramingKind};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// What one framing pass yields: the frames, and the error if any.
type Outcome = (Vec<Frame>, Option<FramingError>);

fn run(kind: FramingKind, max_line: usize, chunks: &[&[u8]]) -> Outcome {
    let mut framer = Framer::new(kind, max_line);
    let mut out = Vec::new();
    for c in chunks {
        if let Err(e) = framer.push(c, &mut out) {
            return (out, Some(e));
        }
    }
    let err = framer.finish(&mut out).err();
    (out, err)
}

/// Cuts `body` at the given sorted offsets.
fn cut<'a>(body: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(points.len() + 1);
    let mut last = 0;
    for &p in points {
        chunks.push(&body[last..p]);
        last = p;
    }
    chunks.push(&body[last..]);
    chunks
}

/// SSE bodies covering every rule, good and bad.
const SSE_CORPUS: &[&[u8]] = &[
    b"data: a\n\n",
    b"data: a\r\n\r\ndata:b\r\rdata:  c\n\n",
    b"data: one\r\ndata: two\rdata:three\n\r\n",
    b": comment\nid: 1\nretry: 5\nfoo: bar\nevent: delta\ndata: x\n\nevent: ping\n\ndata: y\n\n",
    b"\xEF\xBB\xBFevent: e\r\ndata: {\"k\":\"v:w\"}\r\n\r\n",
    b"\xEF\xBB\xBF\r\n",
    b"\xEF\xBBdata: not a bom\n\n",
    "data: 你好，世界🙂\n\ndata: ä\rdata: 😀😀\r\r".as_bytes(),
    b"data: no final blank line",
    b"data: a\n\ndata: b\n",
    b"data:\n\ndata\n\n\n\n\r\r\r\n",
    b"data: a\n\ndata: b\xFFc\n\n",
    b"data: cut \xE4\xBD",
    b"data: 0123456789abcdef0123456789abcdefgh\n\n",
    b"data: 0123456789\ndata: 0123456789\ndata: 0123456789a\n\n",
    b"data: \r",
    b"\r\n\r\n\n\r",
];

/// NDJSON bodies, good and bad.
const NDJSON_CORPUS: &[&[u8]] = &[
    b"{\"a\":1}\n{\"b\":2}\n",
    b"{\"a\":1}\r\n\r\n  \n{\"b\":2}\r\n{\"c\":3}",
    "{\"t\":\"中文🙂\"}\n\n{\"t\":\"é\"}\r\n".as_bytes(),
    b"a\rb\nc\r\r\n",
    b"ok\n\xC0\xAF\n",
    b"0123456789abcdef0123456789abcdef01234567\n",
    b"\n\n\r\n",
];

/// Line limit for the corpus: small, so the long lines above trip it.
const MAX_LINE: usize = 32;

fn check_stream(kind: FramingKind, body: &[u8], rng: &mut SmallRng) {
    let whole = run(kind, MAX_LINE, &[body]);
    for p in 0..=body.len() {
        let got = run(kind, MAX_LINE, &cut(body, &[p]));
        assert_eq!(got, whole, "{kind} body {body:?} split at {p}");
    }
    let bytes: Vec<usize> = (1..body.len()).collect();
    assert_eq!(
        run(kind, MAX_LINE, &cut(body, &bytes)),
        whole,
        "{kind} body {body:?} split into single bytes"
    );
    for round in 0..20 {
        let n = rng.random_range(0..=body.len().min(6));
        let mut points: Vec<usize> = (0..n).map(|_| rng.random_range(0..=body.len())).collect();
        points.sort_unstable();
        assert_eq!(
            run(kind, MAX_LINE, &cut(body, &points)),
            whole,
            "{kind} body {body:?} cut at {points:?} (round {round})"
        );
    }
}

#[test]
fn sse_frames_do_not_depend_on_read_boundaries() {
    let mut rng = SmallRng::seed_from_u64(0x5EED_0001);
    for body in SSE_CORPUS {
        check_stream(FramingKind::Sse, body, &mut rng);
    }
}

#[test]
fn ndjson_frames_do_not_depend_on_read_boundaries() {
    let mut rng = SmallRng::seed_from_u64(0x5EED_0002);
    for body in NDJSON_CORPUS {
        check_stream(FramingKind::Ndjson, body, &mut rng);
    }
}

#[test]
fn raw_text_does_not_depend_on_read_boundaries() {
    // Raw frames are the reads themselves, so only their joined text and the
    // error must match.
    let mut rng = SmallRng::seed_from_u64(0x5EED_0003);
    let joined = |(frames, err): Outcome| -> (String, Option<FramingError>) {
        (frames.into_iter().map(|f| f.data).collect(), err)
    };
    for body in SSE_CORPUS.iter().chain(NDJSON_CORPUS) {
        let whole = joined(run(FramingKind::Raw, MAX_LINE, &[body]));
        // The text is the body up to the first bad byte.
        let good_len = match &whole.1 {
            Some(FramingError::InvalidUtf8 { offset }) => *offset as usize,
            Some(other) => panic!("raw framing has no limit, got {other:?}"),
            None => body.len(),
        };
        assert_eq!(whole.0.as_bytes(), &body[..good_len], "raw body {body:?}");
        for p in 0..=body.len() {
            let got = joined(run(FramingKind::Raw, MAX_LINE, &cut(body, &[p])));
            assert_eq!(got, whole, "raw body {body:?} split at {p}");
        }
        for _ in 0..20 {
            let n = rng.random_range(0..=body.len().min(6));
            let mut points: Vec<usize> = (0..n).map(|_| rng.random_range(0..=body.len())).collect();
            points.sort_unstable();
            let got = joined(run(FramingKind::Raw, MAX_LINE, &cut(body, &points)));
            assert_eq!(got, whole, "raw body {body:?} cut at {points:?}");
        }
    }
}

/// The corpus holds what it claims: each rule's expected frames, unsplit.
#[test]
fn corpus_outcomes_unsplit() {
    let sse = |body: &[u8]| run(FramingKind::Sse, MAX_LINE, &[body]);
    let f = |event: Option<&str>, data: &str| Frame {
        event: event.map(str::to_owned),
        data: data.to_owned(),
    };
    assert_eq!(
        sse(SSE_CORPUS[1]),
        (vec![f(None, "a"), f(None, "b"), f(None, " c")], None)
    );
    assert_eq!(sse(SSE_CORPUS[2]), (vec![f(None, "one\ntwo\nthree")], None));
    assert_eq!(
        sse(SSE_CORPUS[3]),
        (vec![f(Some("delta"), "x"), f(None, "y")], None)
    );
    assert_eq!(
        sse(SSE_CORPUS[4]),
        (vec![f(Some("e"), "{\"k\":\"v:w\"}")], None)
    );
    assert_eq!(sse(SSE_CORPUS[5]), (vec![], None));
    assert_eq!(
        sse(SSE_CORPUS[6]),
        (vec![], Some(FramingError::InvalidUtf8 { offset: 0 }))
    );
    assert_eq!(
        sse(SSE_CORPUS[7]),
        (vec![f(None, "你好，世界🙂"), f(None, "ä\n😀😀")], None)
    );
    assert_eq!(
        sse(SSE_CORPUS[8]),
        (vec![f(None, "no final blank line")], None)
    );
    assert_eq!(sse(SSE_CORPUS[10]), (vec![f(None, ""), f(None, "")], None));
    assert_eq!(
        sse(SSE_CORPUS[11]),
        (
            vec![f(None, "a")],
            Some(FramingError::InvalidUtf8 { offset: 16 })
        )
    );
    assert_eq!(
        sse(SSE_CORPUS[13]),
        (vec![], Some(FramingError::LineTooLong { limit: MAX_LINE }))
    );
    assert_eq!(
        sse(SSE_CORPUS[14]),
        (
            vec![],
            Some(FramingError::FrameTooLarge { limit: MAX_LINE })
        )
    );
    assert_eq!(sse(SSE_CORPUS[15]), (vec![f(None, "")], None));

    let nd = |body: &[u8]| run(FramingKind::Ndjson, MAX_LINE, &[body]);
    assert_eq!(
        nd(NDJSON_CORPUS[1]),
        (
            vec![
                f(None, "{\"a\":1}"),
                f(None, "{\"b\":2}"),
                f(None, "{\"c\":3}")
            ],
            None
        )
    );
    assert_eq!(
        nd(NDJSON_CORPUS[3]),
        (vec![f(None, "a\rb"), f(None, "c\r")], None)
    );
    assert_eq!(
        nd(NDJSON_CORPUS[4]),
        (
            vec![f(None, "ok")],
            Some(FramingError::InvalidUtf8 { offset: 3 })
        )
    );
    assert_eq!(
        nd(NDJSON_CORPUS[5]),
        (vec![], Some(FramingError::LineTooLong { limit: MAX_LINE }))
    );
}
