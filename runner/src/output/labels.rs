//! Report labels in English and Chinese (`--lang en|zh`), and the metric
//! definitions every report carries. Templates read labels as `t.<key>`.
//! The original's column names (并发, 问答/错误, 平均延迟, 出字均速, 总吞吐)
//! are written in the templates themselves, so they appear in both languages.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scenario::Lang;

/// `(key, English, Chinese)`.
const LABELS: &[(&str, &str, &str)] = &[
    ("html_lang", "en", "zh"),
    ("interrupted", "interrupted", "已中断"),
    ("started", "Started", "开始"),
    ("finished", "Finished", "结束"),
    ("runner", "Runner", "运行器"),
    ("target", "Target", "目标"),
    ("plugin", "Plugin", "插件"),
    ("non_streaming", "non-streaming", "非流式"),
    ("dataset", "Dataset", "测试集"),
    ("prompts", "prompts", "条提示"),
    ("levels", "Levels", "并发档位"),
    ("users_short", "users", "并发"),
    ("each", "each", "每档"),
    ("scenario", "Scenario", "场景文件"),
    ("scenario_sha256", "Scenario SHA-256", "场景 SHA-256"),
    ("client", "Client", "客户端"),
    ("cores", "cores", "核"),
    (
        "runner_usage",
        "runner peak RSS %s MiB, CPU %s s",
        "运行器峰值内存 %s MiB，CPU %s 秒",
    ),
    ("calibration", "Calibration budget", "自校准预算"),
    (
        "calibration_sentence",
        "ceiling ≈ %s streams, %s chunks/s (estimated from %s of the CPU); asked %s streams × %s chunks/s: achieved %s streams (mean), %s of %s chunks/s; added latency TTFT p50 %s ms, p99 %s ms; inter-chunk gap p50 %s ms, p99 %s ms",
        "上限约 %s 路流、%s chunks/秒（按 CPU 占用 %s 估计）；请求 %s 路流 × %s chunks/秒：实际 %s 路流（均值），%s / %s chunks/秒；附加延迟 首字 p50 %s 毫秒，p99 %s 毫秒；chunk 间隔 p50 %s 毫秒，p99 %s 毫秒",
    ),
    (
        "calibration_none",
        "not measured (set `calibrate: true` in the scenario, or run `runner calibrate`)",
        "未测量（在场景中设置 `calibrate: true`，或运行 `runner calibrate`）",
    ),
    (
        "tokens_by_source",
        "Output of successful requests by source (usage and tokenizer count tokens; chunks are content events, not tokens)",
        "成功请求的输出按来源（usage 与 tokenizer 为 token 数；chunks 为内容事件数，不是 token）",
    ),
    (
        "tokens_mismatch",
        "requests with usage and tokenizer more than 10%% apart: %s",
        "usage 与 tokenizer 计数相差超过 10%% 的请求：%s 个",
    ),
    ("source_none", "none", "无"),
    ("stopped_early", "Stopped early", "提前停止"),
    ("run_heading", "Run", "运行信息"),
    ("levels_heading", "Levels", "各并发档位"),
    ("charts_heading", "Charts", "图表"),
    ("percentiles_heading", "Percentiles", "分位数"),
    ("errors_heading", "Errors by class", "错误分类"),
    ("definitions_heading", "Definitions", "指标定义"),
    (
        "original_columns",
        "The original's columns: 并发 (users), 问答/错误 (requests/errors), 平均延迟 (mean TTFT), 出字均速 (mean per-user chars/s), 总吞吐 (chars/s).",
        "原工具的列：并发、问答/错误、平均延迟（首字延迟均值）、出字均速（每用户字/秒均值）、总吞吐（字/秒）。",
    ),
    ("col_users_suffix", " (users)", ""),
    ("col_requests_suffix", " (requests/errors)", ""),
    ("col_mean_ttft_suffix", " (mean TTFT, s)", "（秒）"),
    ("col_user_speed_suffix", " (chars/s per user)", "（字/秒）"),
    ("col_throughput_suffix", " (chars/s)", "（字/秒）"),
    (
        "col_achieved",
        "achieved concurrency (mean/max)",
        "实际并发 (均值/最大)",
    ),
    ("col_output_tps", "output tok/s", "输出 token/s"),
    ("col_error_rate", "error rate", "错误率"),
    ("metric", "metric", "指标"),
    ("count", "count", "数量"),
    ("mean", "mean", "均值"),
    ("requests", "requests", "请求"),
    ("user_speed", "per-user speed", "出字均速"),
    ("output_chars", "output chars", "输出字数"),
    ("output_tokens", "output tokens", "输出 token 数"),
    (
        "window_sentence",
        "Ramp-in %s s (until every user had a response), steady %s s, drain %s s. Throughput over the steady window: %s chars/s, %s output tokens/s (%s), %s total tokens/s, %s req/s.",
        "爬升 %s 秒（直到每个用户都收到回复），稳态 %s 秒，收尾 %s 秒。稳态窗口内吞吐：%s 字/秒，%s 输出 token/秒（%s），%s 总 token/秒，%s 请求/秒。",
    ),
    (
        "achieved_sentence",
        "Achieved concurrency %s of %s (%s), max %s.",
        "实际并发 %s / %s（%s），最大 %s。",
    ),
    (
        "achieved_open",
        "Concurrency (requests in flight, time-weighted mean) %s, max %s.",
        "实际并发（在途请求的时间加权均值）%s，最大 %s。",
    ),
    ("error_class", "error class", "错误类别"),
    ("example", "example", "示例"),
    ("flag", "Flag", "注意"),
    ("warmup", "warm-up", "预热"),
    ("load", "Load", "负载"),
    (
        "steady_sentence",
        "Steady state (%s requests: not a user's first, sent before the window's end): TTFT p50 %s / p99 %s ms, TPOT p50 %s / p99 %s ms, ITL p99 %s ms, E2E p99 %s ms.",
        "稳态（%s 个请求：非用户首个请求、在窗口结束前发出）：首字延迟 p50 %s / p99 %s 毫秒，TPOT p50 %s / p99 %s 毫秒，ITL p99 %s 毫秒，E2E p99 %s 毫秒。",
    ),
    ("open_loop_heading", "Open-loop arrivals", "开环到达"),
    ("step", "step", "阶段"),
    ("target_rate", "target req/s", "目标请求/秒"),
    ("sent_rate", "sent req/s", "实发请求/秒"),
    ("arrivals", "arrivals", "到达数"),
    ("dropped", "dropped", "丢弃"),
    ("search_heading", "SLO search", "SLO 搜索"),
    (
        "search_found",
        "Highest value meeting the objectives: **%s** %s (at least %s%% of requests good; precision %s%%).",
        "满足目标的最高值：**%s** %s（至少 %s%% 的请求达标；精度 %s%%）。",
    ),
    (
        "search_none",
        "No probe met the objectives (at least %s%% of requests good).",
        "没有探测满足目标（至少 %s%% 的请求达标）。",
    ),
    ("verdict", "verdict", "结论"),
    ("probe_pass", "pass", "通过"),
    ("probe_fail", "fail", "未通过"),
    ("turn", "turn", "轮次"),
    ("errors", "errors", "错误"),
    ("formula", "formula", "公式"),
    ("same_as", "same number as", "等同于"),
    (
        "notation",
        "Notation: `planned` is when a request was due (a closed-loop user became free), `sent` when it was handed to the HTTP client, `t_i` the arrival of the i-th content event, `t_N` the last, `end` when the body ended, `N` the output tokens (from the server's `usage` when it reports them, else the scenario's tokenizer.json over the whole reply, else the count of content events, labelled `chunks`). Chars count Unicode scalar values: a Chinese character is 1. Percentiles come from HDR histograms (3 significant digits).",
        "记号：`planned` 为请求应发出的时刻（闭环用户空闲时），`sent` 为交给 HTTP 客户端的时刻，`t_i` 为第 i 个内容事件到达时刻，`t_N` 为最后一个，`end` 为响应体结束时刻，`N` 为输出 token 数（服务端报告 `usage` 时取之，否则用场景的 tokenizer.json 统计整段回复，再否则为内容事件数，标为 `chunks`）。字数按 Unicode 标量计：一个汉字计 1。分位数来自 HDR 直方图（3 位有效数字）。",
    ),
    ("kpi_peak_throughput", "Peak throughput", "峰值总吞吐"),
    (
        "kpi_peak_tokens",
        "Peak output tokens/s",
        "峰值输出 token/s",
    ),
    (
        "kpi_best_ttft",
        "TTFT p50 at lowest load",
        "最低负载首字延迟 p50",
    ),
    ("kpi_requests", "Requests", "请求总数"),
    ("kpi_error_rate", "Error rate", "错误率"),
    ("kpi_at", "at %s users", "并发 %s"),
    ("kpi_over", "over %s levels", "共 %s 档"),
    (
        "chart_throughput",
        "Throughput vs concurrency",
        "吞吐 vs 并发",
    ),
    (
        "chart_ttft",
        "TTFT p50 / p99 vs concurrency",
        "首字延迟 p50 / p99 vs 并发",
    ),
    (
        "chart_tpot",
        "TPOT p50 / p99 vs concurrency",
        "每 token 时间 p50 / p99 vs 并发",
    ),
    (
        "chart_user_speed",
        "Per-user chars/s vs concurrency (出字均速)",
        "出字均速 vs 并发",
    ),
    (
        "chart_cdf_ttft",
        "TTFT distribution per level",
        "各档首字延迟分布",
    ),
    (
        "chart_cdf_e2e",
        "E2E latency distribution per level",
        "各档端到端延迟分布",
    ),
    (
        "chart_timeline",
        "Timeline: in flight, chars/s, errors/s",
        "时间线：在途请求、字/秒、错误/秒",
    ),
    (
        "chart_latency_throughput",
        "Latency vs throughput",
        "延迟 vs 吞吐",
    ),
    ("axis_throughput", "per second", "每秒"),
    ("axis_users", "users (log scale)", "并发（对数坐标）"),
    ("axis_percentile", "percentile", "分位"),
    (
        "axis_seconds",
        "seconds (levels back to back)",
        "秒（各档首尾相接）",
    ),
    ("series_chars_per_s", "chars/s", "字/秒"),
    ("series_tokens_per_s", "output tokens/s", "输出 token/秒"),
    ("series_mean", "mean", "均值"),
    ("series_in_flight", "in flight", "在途请求"),
    ("series_errors_per_s", "errors/s", "错误/秒"),
    ("compare_heading", "Comparison", "对比"),
    ("base", "base", "基线"),
    ("new", "new", "新"),
    ("delta", "change", "变化"),
    ("gates_heading", "Gates", "门限"),
    ("gate", "gate", "门限"),
    ("result", "result", "结果"),
    ("pass", "pass", "通过"),
    ("fail", "FAIL", "失败"),
    (
        "diff_heading",
        "Scenario and environment differences",
        "场景与环境差异",
    ),
    (
        "no_diff",
        "The two runs have the same scenario and environment.",
        "两次运行的场景与环境相同。",
    ),
    ("key", "key", "键"),
    ("only_in_base", "Levels only in base", "仅基线有的档位"),
    ("only_in_new", "Levels only in new", "仅新运行有的档位"),
    (
        "matched_levels",
        "Levels matched by users",
        "按并发匹配的档位",
    ),
    ("worse", "worse", "变差"),
    (
        "no_common_levels",
        "No level has the same users in both runs.",
        "两次运行没有相同并发的档位。",
    ),
    ("better", "better", "变好"),
];

/// One row of the definitions table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Definition {
    /// Metric name as in results.json (without the unit suffix).
    pub name: &'static str,
    /// Its formula in the notation above the table.
    pub formula: &'static str,
    /// Tools that report the same number.
    pub same_as: &'static str,
}

/// The definitions table, shared by every report.
pub const DEFINITIONS: &[Definition] = &[
    Definition {
        name: "ttft",
        formula: "t_1 − sent (first non-empty content)",
        same_as: "SGLang, AIPerf, llmperf; the original's 平均延迟 (its mean)",
    },
    Definition {
        name: "ttft_first_event",
        formula: "first data frame − sent",
        same_as: "vLLM, EvalScope",
    },
    Definition {
        name: "tpot",
        formula: "(t_N − t_1) / (N − 1), N > 1",
        same_as: "vLLM/SGLang/EvalScope TPOT, AIPerf ITL",
    },
    Definition {
        name: "itl",
        formula: "gaps between consecutive content events, pooled",
        same_as: "vLLM/SGLang ITL, AIPerf ICL",
    },
    Definition {
        name: "e2e",
        formula: "end − sent",
        same_as: "vLLM E2EL",
    },
    Definition {
        name: "e2e_from_planned",
        formula: "end − planned",
        same_as: "ours (coordinated-omission free)",
    },
    Definition {
        name: "queue_delay",
        formula: "sent − planned",
        same_as: "ours",
    },
    Definition {
        name: "output tokens (N)",
        formula: "usage.completion_tokens when the server reports it; else the scenario's tokenizer.json over the whole reply, special tokens excluded, counted after the stream ended; else content events, labelled `chunks`. A request whose usage and tokenizer counts differ by more than 10% of usage is counted as a mismatch",
        same_as: "vLLM/SGLang (usage); AIPerf (tokenizer)",
    },
    Definition {
        name: "user_chars_per_s",
        formula: "chars / (t_N − t_1); one content event: chars / (t_1 − sent)",
        same_as: "the original's 出字均速",
    },
    Definition {
        name: "throughput",
        formula: "chars (or tokens, or successful requests) inside the steady window / its length; the steady window runs from when every user has had its first response to the end of the load window",
        same_as: "the original's 总吞吐 (chars/s)",
    },
    Definition {
        name: "achieved concurrency",
        formula: "∫ in_flight dt / window length (exact), and the max",
        same_as: "ours",
    },
    Definition {
        name: "goodput",
        formula: "requests that succeeded and met every SLO, ended inside the steady window / its length (when the scenario sets SLOs)",
        same_as: "vLLM, AIPerf",
    },
];

/// The labels of one language.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Labels(BTreeMap<&'static str, &'static str>);

impl Labels {
    /// The labels of `lang`.
    pub fn new(lang: Lang) -> Self {
        Labels(
            LABELS
                .iter()
                .map(|&(k, en, zh)| (k, if matches!(lang, Lang::Zh) { zh } else { en }))
                .collect(),
        )
    }

    /// The label for `key`; the key itself when there is none, so a
    /// missing label shows rather than vanishes.
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.0.get(key).copied().unwrap_or(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, en, zh) in LABELS {
            assert!(seen.insert(k), "duplicate label {k}");
            assert!(!en.is_empty() || k.ends_with("_suffix"), "{k}");
            assert!(!zh.is_empty() || k.ends_with("_suffix"), "{k}");
            assert_eq!(en.matches("%s").count(), zh.matches("%s").count(), "{k}");
        }
        assert_eq!(Labels::new(Lang::Zh).get("started"), "开始");
        assert_eq!(Labels::new(Lang::En).get("nope"), "nope");
    }
}
