//! The mock's generated text: a fixed vocabulary of Chinese words and English
//! words, pre-serialized as JSON string literals once at start-up, and a seeded
//! picker that strings them into sentences.
//!
//! Each vocabulary entry is one token and goes out as one chunk. Chinese
//! entries are one to six characters; English entries carry a leading space,
//! as BPE tokens do. A few entries (`"\n"`, `"\n\n"`, ` "ok"`) need JSON
//! escaping, so a client that splices JSON by hand fails loudly against the
//! mock rather than against a real server.

use bytes::Bytes;
use rand::Rng;
use rand::rngs::SmallRng;

/// Chinese words and characters, single and multi-char.
#[rustfmt::skip]
const ZH_WORDS: &[&str] = &[
    "的", "了", "是", "在", "和", "有", "也", "就", "都", "而", "与", "对", "从", "把", "被", "让",
    "给", "向", "并", "更", "很", "最", "将", "会", "能", "要", "说", "看", "做", "用", "上", "下",
    "中", "大", "小", "多", "少", "新", "好", "人", "天", "年", "月", "山", "水", "风", "雨", "花",
    "我们", "你们", "他们", "模型", "推理", "服务", "性能", "测试", "数据", "系统", "用户", "请求",
    "延迟", "吞吐", "时间", "结果", "问题", "方法", "可以", "需要", "通过", "进行", "这个", "一个",
    "没有", "因为", "所以", "但是", "如果", "已经", "非常", "重要", "春天", "夏天", "秋天", "冬天",
    "城市", "世界", "历史", "文化", "科学", "技术", "计算", "网络", "语言", "文字", "学习", "研究",
    "发展", "经济", "社会", "生活", "工作", "朋友", "老师", "学生", "知识", "信息", "内容", "分析",
    "设计", "实现", "部署", "优化", "评估", "指标", "并发", "队列", "调度", "缓存", "内存", "显卡",
    "参数", "训练", "生成", "输出", "输入", "文本", "答案", "解释", "例如", "首先", "其次", "最后",
    "总之", "然而", "同时", "另外", "因此", "由于", "虽然", "不过", "人工智能", "大语言模型",
    "自然语言处理", "深度学习", "神经网络", "注意力机制", "一步一步", "总的来说", "换句话说",
    "吞吐量", "首字延迟", "服务器", "客户端", "长文本",
];

/// English words, each with the leading space a BPE tokenizer keeps.
#[rustfmt::skip]
const EN_WORDS: &[&str] = &[
    " the", " of", " and", " to", " a", " in", " is", " that", " for", " it", " with", " as",
    " was", " on", " be", " by", " this", " are", " from", " at", " or", " an", " which", " can",
    " will", " model", " server", " request", " token", " latency", " throughput", " stream",
    " response", " data", " system", " user", " time", " result", " test", " load", " network",
    " memory", " cache", " queue", " batch", " first", " next", " each", " every", " many",
    " more", " most", " some", " other", " new", " good", " fast", " slow", " large", " small",
    " simple", " clear", " open", " close", " read", " write", " send", " receive", " measure",
    " report", " compare", " build", " run", " start", " stop", " wait", " answer", " question",
    " example", " reason", " because", " however", " therefore", " also", " only", " still",
    " already", " often", " always", " never", " here", " there", " we", " you", " they", " our",
    " their", " its", " language", " text", " word", " sentence", " number", " value", " average",
    " percentile", " second", " minute", " hour", " day", " world", " people", " work", " life",
    " way", " part", " place", " case", " point", " fact", " idea", " problem", " solution",
    " method", " step", " process", " GPU", " CPU", " API", " HTTP", " JSON", " Rust", " Python",
    " 2024", " 100", " 42", " ms", " \"ok\"",
];

const ZH_MID: &[&str] = &["，", "、"];
const ZH_END: &[&str] = &["。", "！", "？"];
const EN_MID: &[&str] = &[","];
const EN_END: &[&str] = &[".", "!", "?"];
const BREAKS: &[&str] = &["\n", "\n\n"];

/// Share of sentences written in Chinese.
const ZH_SENTENCE_SHARE: f64 = 0.6;
/// Chance that a word is followed by a mid-sentence comma.
const COMMA_CHANCE: f64 = 0.1;
/// Chance that a sentence is followed by a line or paragraph break.
const BREAK_CHANCE: f64 = 0.15;

/// Index into a [`Vocabulary`].
pub(crate) type TokenId = u16;

/// A contiguous range of the vocabulary holding one class of token.
#[derive(Debug, Clone, Copy)]
struct Class {
    start: TokenId,
    len: TokenId,
}

impl Class {
    fn pick(self, rng: &mut SmallRng) -> TokenId {
        self.start + rng.random_range(0..self.len)
    }
}

/// Every token the mock can emit, as text and as a pre-serialized JSON string
/// literal (quotes included), so the hot path copies bytes and never escapes.
#[derive(Debug)]
pub(crate) struct Vocabulary {
    text: Vec<&'static str>,
    json: Vec<Bytes>,
    zh_words: Class,
    en_words: Class,
    zh_mid: Class,
    zh_end: Class,
    en_mid: Class,
    en_end: Class,
    breaks: Class,
}

impl Vocabulary {
    /// Builds the vocabulary and serializes every entry once.
    pub(crate) fn new() -> Self {
        let mut text: Vec<&'static str> = Vec::new();
        let mut add = |words: &[&'static str]| {
            // The lists above are a few hundred entries, far below u16::MAX.
            let start = text.len() as TokenId;
            text.extend_from_slice(words);
            Class {
                start,
                len: words.len() as TokenId,
            }
        };
        let zh_words = add(ZH_WORDS);
        let en_words = add(EN_WORDS);
        let zh_mid = add(ZH_MID);
        let zh_end = add(ZH_END);
        let en_mid = add(EN_MID);
        let en_end = add(EN_END);
        let breaks = add(BREAKS);
        let json = text.iter().map(|t| Bytes::from(json_literal(t))).collect();
        Vocabulary {
            text,
            json,
            zh_words,
            en_words,
            zh_mid,
            zh_end,
            en_mid,
            en_end,
            breaks,
        }
    }

    /// Number of distinct tokens.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The token's text.
    pub(crate) fn text(&self, id: TokenId) -> &'static str {
        self.text[usize::from(id)]
    }

    /// The token as a JSON string literal, quotes included.
    pub(crate) fn json(&self, id: TokenId) -> &Bytes {
        &self.json[usize::from(id)]
    }
}

/// A JSON string literal for `s`, quotes included.
pub(crate) fn json_literal(s: &str) -> String {
    // Serializing a &str cannot fail; the fallback keeps this total anyway.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

/// Strings vocabulary tokens into sentences: a run of words in one language,
/// an occasional comma, an end mark, now and then a line break. One picker
/// per response, driven by that response's seeded RNG.
#[derive(Debug)]
pub(crate) struct TokenPicker {
    lang: Lang,
    /// Words still to write in the current sentence; 0 means the end mark is next.
    words_left: u32,
    /// Whether the current sentence is finished and a new one starts next.
    at_sentence_start: bool,
    /// Whether the previous token was punctuation (no comma right after it).
    after_punct: bool,
}

impl TokenPicker {
    /// A picker at the start of a sentence.
    pub(crate) fn new() -> Self {
        TokenPicker {
            lang: Lang::Zh,
            words_left: 0,
            at_sentence_start: true,
            after_punct: true,
        }
    }

    /// The next token.
    pub(crate) fn next(&mut self, vocab: &Vocabulary, rng: &mut SmallRng) -> TokenId {
        if self.at_sentence_start {
            self.at_sentence_start = false;
            self.lang = if rng.random_bool(ZH_SENTENCE_SHARE) {
                Lang::Zh
            } else {
                Lang::En
            };
            self.words_left = rng.random_range(4..=14);
        }
        if self.words_left == 0 {
            // The sentence ends here; a break, when drawn, is part of its end.
            self.at_sentence_start = true;
            self.after_punct = true;
            return if rng.random_bool(BREAK_CHANCE) {
                vocab.breaks.pick(rng)
            } else {
                match self.lang {
                    Lang::Zh => vocab.zh_end.pick(rng),
                    Lang::En => vocab.en_end.pick(rng),
                }
            };
        }
        if !self.after_punct && self.words_left > 1 && rng.random_bool(COMMA_CHANCE) {
            self.after_punct = true;
            return match self.lang {
                Lang::Zh => vocab.zh_mid.pick(rng),
                Lang::En => vocab.en_mid.pick(rng),
            };
        }
        self.words_left -= 1;
        self.after_punct = false;
        match self.lang {
            Lang::Zh => vocab.zh_words.pick(rng),
            Lang::En => vocab.en_words.pick(rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample(seed: u64, n: usize) -> Vec<TokenId> {
        let vocab = Vocabulary::new();
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut picker = TokenPicker::new();
        (0..n).map(|_| picker.next(&vocab, &mut rng)).collect()
    }

    #[test]
    fn vocabulary_is_a_few_hundred_nonempty_tokens() {
        let vocab = Vocabulary::new();
        assert!((250..1000).contains(&vocab.len()), "{}", vocab.len());
        for id in 0..vocab.len() as TokenId {
            assert!(!vocab.text(id).is_empty());
        }
    }

    #[test]
    fn json_bytes_decode_to_the_text() {
        let vocab = Vocabulary::new();
        for id in 0..vocab.len() as TokenId {
            let decoded: String = serde_json::from_slice(vocab.json(id)).expect("valid literal");
            assert_eq!(decoded, vocab.text(id));
        }
        let escaped = (0..vocab.len() as TokenId)
            .filter(|&id| vocab.json(id).contains(&b'\\'))
            .count();
        assert!(escaped >= 3, "newlines and quotes must be escaped");
    }

    #[test]
    fn same_seed_same_text_other_seed_other_text() {
        assert_eq!(sample(7, 300), sample(7, 300));
        assert_ne!(sample(7, 300), sample(8, 300));
    }

    #[test]
    fn text_mixes_chinese_and_english() {
        let vocab = Vocabulary::new();
        let text: String = sample(42, 2000)
            .into_iter()
            .map(|id| vocab.text(id))
            .collect();
        let chinese = text
            .chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count();
        let english_words = text
            .split(' ')
            .filter(|w| w.starts_with(|c: char| c.is_ascii_alphabetic()))
            .count();
        assert!(chinese > 500, "{chinese} Chinese chars");
        assert!(english_words > 200, "{english_words} English words");
        assert!(text.contains('。') && text.contains('.'));
    }

    #[test]
    fn no_comma_right_after_punctuation() {
        let vocab = Vocabulary::new();
        let ids = sample(3, 5000);
        for pair in ids.windows(2) {
            let (a, b) = (vocab.text(pair[0]), vocab.text(pair[1]));
            let is_mark = |t: &str| ZH_MID.contains(&t) || EN_MID.contains(&t);
            let is_punct = |t: &str| is_mark(t) || ZH_END.contains(&t) || EN_END.contains(&t);
            assert!(!(is_punct(a) && is_mark(b)), "{a:?} then {b:?}");
        }
    }
}
