//! Token estimates for text the server has not counted yet: a chars-per-token ratio for
//! alphabetic scripts and a tokens-per-character ratio for CJK, both corrected as real counts arrive.

/// What a chat template adds around each message (role markers, end-of-turn): a few tokens.
pub const MESSAGE_OVERHEAD: u64 = 4;

/// Starting ratios: English averages about four characters per token in the common tokenizers,
/// while Chinese, Japanese and Korean run close to one token per character.
const DEFAULT_CHARS_PER_TOKEN: f64 = 4.0;
const DEFAULT_TOKENS_PER_CJK: f64 = 1.0;

/// Ratios stay within what real tokenizers produce, so one odd sample cannot wreck the estimate.
const CHARS_PER_TOKEN_RANGE: (f64, f64) = (1.5, 8.0);
const TOKENS_PER_CJK_RANGE: (f64, f64) = (0.3, 3.0);

/// Samples smaller than this say more about template noise than about the tokenizer.
const MIN_SAMPLE_TOKENS: f64 = 8.0;

/// How much one sample moves a ratio (the rest is the old value), so estimates settle quickly
/// but do not jump around with each message.
const LEARNING_RATE: f64 = 0.5;

/// A share of the estimate above this counts as "all of one script" when learning.
const DOMINANT_SHARE: f64 = 0.8;

/// The size of a text in the two units the estimator uses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TextSize {
    /// Alphabetic-script characters; other non-CJK scripts (Cyrillic, emoji, …) count double,
    /// since their tokenizers split them finer.
    pub latin: u64,
    pub cjk: u64,
}

impl TextSize {
    pub fn of(text: &str) -> TextSize {
        let mut size = TextSize::default();
        for c in text.chars() {
            if is_cjk(c) {
                size.cjk += 1;
            } else if (c as u32) < 0x250 {
                size.latin += 1;
            } else {
                size.latin += 2;
            }
        }
        size
    }
}

impl std::ops::Add for TextSize {
    type Output = TextSize;
    fn add(self, other: TextSize) -> TextSize {
        TextSize {
            latin: self.latin + other.latin,
            cjk: self.cjk + other.cjk,
        }
    }
}

/// Han ideographs, kana, Hangul, CJK punctuation and full-width forms.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF
        | 0x2E80..=0x2FDF
        | 0x3000..=0x303F
        | 0x3040..=0x30FF
        | 0x3100..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF)
}

/// The calibrated estimate. One per chat: it learns the model's tokenizer as the server reports
/// real counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimator {
    chars_per_token: f64,
    tokens_per_cjk: f64,
    samples: u32,
}

impl Default for Estimator {
    fn default() -> Self {
        Estimator {
            chars_per_token: DEFAULT_CHARS_PER_TOKEN,
            tokens_per_cjk: DEFAULT_TOKENS_PER_CJK,
            samples: 0,
        }
    }
}

/// What one image is guessed to cost in the prompt before the server says: vision models differ
/// (gemma3 256 tokens, llava 576, qwen2.5vl more for large images), so llava's figure, corrected
/// by `prompt_eval_count` after the reply. Small enough that two photos fit a 2048-token window.
pub const IMAGE_TOKENS: u64 = 576;

impl Estimator {
    /// Tokens of bare text (no template overhead).
    pub fn text_tokens(&self, size: TextSize) -> u64 {
        let t = size.latin as f64 / self.chars_per_token + size.cjk as f64 * self.tokens_per_cjk;
        t.ceil() as u64
    }

    /// Tokens one message costs in a prompt, template overhead included.
    pub fn message_tokens(&self, content: &str) -> u64 {
        self.text_tokens(TextSize::of(content)) + MESSAGE_OVERHEAD
    }

    /// Tokens a message with `images` images costs before the server has counted it. Each image
    /// is [`IMAGE_TOKENS`]; the server's count replaces the whole estimate after the reply.
    pub fn message_with_images(&self, content: &str, images: usize) -> u64 {
        self.message_tokens(content) + IMAGE_TOKENS * images as u64
    }

    /// How many real counts have corrected the estimate so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    pub fn chars_per_token(&self) -> f64 {
        self.chars_per_token
    }

    pub fn tokens_per_cjk(&self) -> f64 {
        self.tokens_per_cjk
    }

    /// Corrects the ratios with a real count: `tokens` is what the server counted for text of
    /// `size` (template overhead already taken off). A sample that is mostly one script corrects
    /// that script's ratio; a mixed one scales both.
    pub fn learn(&mut self, size: TextSize, tokens: u64) {
        let latin = size.latin as f64 / self.chars_per_token;
        let cjk = size.cjk as f64 * self.tokens_per_cjk;
        let estimate = latin + cjk;
        let actual = tokens as f64;
        if actual < MIN_SAMPLE_TOKENS || estimate < MIN_SAMPLE_TOKENS / 2.0 {
            return;
        }
        let ratio = actual / estimate;
        if cjk / estimate >= DOMINANT_SHARE {
            self.set_cjk(blend(self.tokens_per_cjk, self.tokens_per_cjk * ratio));
        } else if latin / estimate >= DOMINANT_SHARE {
            self.set_latin(blend(self.chars_per_token, self.chars_per_token / ratio));
        } else {
            self.scale(blend(1.0, ratio));
        }
        self.samples += 1;
    }

    /// Makes every estimate `factor` times larger (the server showed we count too low).
    pub fn scale(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            self.set_latin(self.chars_per_token / factor);
            self.set_cjk(self.tokens_per_cjk * factor);
        }
    }

    fn set_latin(&mut self, v: f64) {
        self.chars_per_token = v.clamp(CHARS_PER_TOKEN_RANGE.0, CHARS_PER_TOKEN_RANGE.1);
    }

    fn set_cjk(&mut self, v: f64) {
        self.tokens_per_cjk = v.clamp(TOKENS_PER_CJK_RANGE.0, TOKENS_PER_CJK_RANGE.1);
    }
}

fn blend(old: f64, target: f64) -> f64 {
    old + LEARNING_RATE * (target - old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_by_script() {
        assert_eq!(TextSize::of(""), TextSize::default());
        assert_eq!(TextSize::of("hello"), TextSize { latin: 5, cjk: 0 });
        assert_eq!(TextSize::of("你好，世界"), TextSize { latin: 0, cjk: 5 });
        assert_eq!(
            TextSize::of("こんにちは 안녕"),
            TextSize { latin: 1, cjk: 7 }
        );
        assert_eq!(TextSize::of("Привет"), TextSize { latin: 12, cjk: 0 });
        assert_eq!(TextSize::of("café 😀"), TextSize { latin: 7, cjk: 0 });
    }

    #[test]
    fn default_estimates() {
        let e = Estimator::default();
        assert_eq!(e.text_tokens(TextSize::of("")), 0);
        assert_eq!(e.message_tokens(""), MESSAGE_OVERHEAD);
        assert_eq!(e.text_tokens(TextSize::of("abcdefgh")), 2);
        assert_eq!(e.text_tokens(TextSize::of("abcdefghi")), 3);
        assert_eq!(e.text_tokens(TextSize::of("學而時習之")), 5);
        assert_eq!(e.message_tokens("abcd你好"), 1 + 2 + MESSAGE_OVERHEAD);
    }

    #[test]
    fn learning_a_latin_sample_moves_only_the_latin_ratio() {
        let mut e = Estimator::default();
        // 400 characters that really were 200 tokens: 2 chars per token, half-way there.
        e.learn(TextSize { latin: 400, cjk: 0 }, 200);
        assert!((e.chars_per_token() - 3.0).abs() < 1e-9);
        assert_eq!(e.tokens_per_cjk(), 1.0);
        assert_eq!(e.samples(), 1);
        for _ in 0..20 {
            e.learn(TextSize { latin: 400, cjk: 0 }, 200);
        }
        assert!((e.chars_per_token() - 2.0).abs() < 0.01);
    }

    #[test]
    fn learning_a_cjk_sample_moves_only_the_cjk_ratio() {
        let mut e = Estimator::default();
        e.learn(TextSize { latin: 4, cjk: 100 }, 150);
        assert_eq!(e.chars_per_token(), 4.0);
        assert!(e.tokens_per_cjk() > 1.2 && e.tokens_per_cjk() < 1.3);
    }

    #[test]
    fn a_mixed_sample_scales_both() {
        let mut e = Estimator::default();
        e.learn(
            TextSize {
                latin: 200,
                cjk: 50,
            },
            200,
        ); // estimate 100, actual 200
        assert!((e.chars_per_token() - 4.0 / 1.5).abs() < 1e-9);
        assert!((e.tokens_per_cjk() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn tiny_samples_and_absurd_ratios_are_contained() {
        let mut e = Estimator::default();
        e.learn(TextSize { latin: 8, cjk: 0 }, 3);
        assert_eq!(e, Estimator::default());
        e.learn(TextSize { latin: 8, cjk: 0 }, 0);
        assert_eq!(e, Estimator::default());
        for _ in 0..50 {
            e.learn(TextSize { latin: 40, cjk: 0 }, 10_000);
            e.learn(TextSize { latin: 0, cjk: 40 }, 10_000);
        }
        assert_eq!(e.chars_per_token(), CHARS_PER_TOKEN_RANGE.0);
        assert_eq!(e.tokens_per_cjk(), TOKENS_PER_CJK_RANGE.1);
        e.scale(f64::NAN);
        e.scale(0.0);
        assert_eq!(e.chars_per_token(), CHARS_PER_TOKEN_RANGE.0);
    }

    #[test]
    fn scaling_up_raises_estimates() {
        let mut e = Estimator::default();
        let before = e.text_tokens(TextSize {
            latin: 400,
            cjk: 100,
        });
        e.scale(1.25);
        assert_eq!(
            e.text_tokens(TextSize {
                latin: 400,
                cjk: 100
            }),
            before * 5 / 4
        );
    }
}
