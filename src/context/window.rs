//! Which context window the model has, and where that knowledge came from: the user's `num_ctx`,
//! the loaded model (`GET /api/ps`), the model's own `num_ctx` parameter (`POST /api/show`), or an
//! assumption until the server tells.

use std::fmt;

use serde::Serialize;

use crate::conversation::MAX_PLAUSIBLE_TOKENS;
use crate::models::ModelInfo;

/// The smallest default window Ollama versions have used (`OLLAMA_CONTEXT_LENGTH`, 2048 on older
/// releases, 4096 on small machines today): assumed until the server says, so that a first prompt
/// is never cut silently because the client guessed high.
pub const ASSUMED_WINDOW: u64 = 2048;

/// Where the window figure came from, most trustworthy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSource {
    /// The user set `num_ctx`; Ollama allocates that (unless it caps it, which /api/ps shows).
    NumCtx,
    /// `context_length` of the model as loaded, from `GET /api/ps`.
    Loaded,
    /// The model's Modelfile sets `num_ctx`, which is what Ollama uses when a request does not.
    ModelParameter,
    /// Nothing known yet: the server's own default applies and cannot be read before the model
    /// is loaded.
    Assumed,
}

impl WindowSource {
    /// For `/context` and the debug output.
    pub fn describe(self) -> &'static str {
        match self {
            WindowSource::NumCtx => "your num_ctx option",
            WindowSource::Loaded => "the loaded model (GET /api/ps)",
            WindowSource::ModelParameter => "the model's num_ctx parameter (POST /api/show)",
            WindowSource::Assumed => "an assumption until the model is loaded",
        }
    }

    /// For the turn log.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowSource::NumCtx => "num_ctx",
            WindowSource::Loaded => "loaded",
            WindowSource::ModelParameter => "model_parameter",
            WindowSource::Assumed => "assumed",
        }
    }

    /// Whether the figure is what the server really uses (not a guess).
    pub fn is_known(self) -> bool {
        self != WindowSource::Assumed
    }
}

impl fmt::Display for WindowSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The window the budget is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub tokens: u64,
    pub source: WindowSource,
}

/// What `POST /api/show` says about a model's context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelFacts {
    /// `PARAMETER num_ctx` of the Modelfile: the window Ollama gives requests without `num_ctx`.
    pub num_ctx_parameter: Option<u64>,
    /// `model_info["<arch>.context_length"]`: the most the model was trained for. Ollama's
    /// default window is usually much smaller.
    pub context_length: Option<u64>,
}

/// What `GET /api/ps` says, and whether our own request loaded it (before our first reply it may
/// have been loaded by someone else with other options, and Ollama would reload it for us).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    pub context_length: u64,
    pub ours: bool,
}

/// Picks the window: the user's `num_ctx`; else the model as our requests loaded it; else the
/// Modelfile's `num_ctx`; else the model as someone else loaded it; else [`ASSUMED_WINDOW`]
/// (never more than the model's maximum).
pub fn resolve(num_ctx: Option<u64>, loaded: Option<Loaded>, facts: ModelFacts) -> Window {
    let pick = |tokens, source| Window { tokens, source };
    if let Some(n) = num_ctx.filter(|&n| n > 0) {
        return pick(n, WindowSource::NumCtx);
    }
    let loaded = loaded.filter(|l| l.context_length > 0);
    if let Some(l) = loaded.filter(|l| l.ours) {
        return pick(l.context_length, WindowSource::Loaded);
    }
    if let Some(n) = facts.num_ctx_parameter.filter(|&n| n > 0) {
        return pick(n, WindowSource::ModelParameter);
    }
    if let Some(l) = loaded {
        return pick(l.context_length, WindowSource::Loaded);
    }
    let max = facts.context_length.filter(|&n| n > 0).unwrap_or(u64::MAX);
    pick(ASSUMED_WINDOW.min(max), WindowSource::Assumed)
}

impl ModelFacts {
    /// What `POST /api/show` says: the `num_ctx` line of `parameters` (a well-formed positive
    /// number only) and `<arch>.context_length` of `model_info`.
    pub fn from_show(show: &ModelInfo) -> Self {
        let num_ctx_parameter = show
            .parameter_pairs()
            .into_iter()
            .find(|(name, _)| *name == "num_ctx")
            .and_then(|(_, value)| value.parse().ok())
            .and_then(plausible_window);
        ModelFacts {
            num_ctx_parameter,
            context_length: show
                .arch_number("context_length")
                .and_then(plausible_window),
        }
    }
}

/// A window size a server reported, if it could be one: at least one token and no more than
/// [`MAX_PLAUSIBLE_TOKENS`]. A broken or hostile server's zero or `u64::MAX` is "not reported",
/// so no budget, fill or "room left" is built on it.
pub fn plausible_window(n: u64) -> Option<u64> {
    Some(n).filter(|&n| n > 0 && n <= MAX_PLAUSIBLE_TOKENS)
}

/// Model names as /api/ps reports them: a name without a tag means `:latest`.
pub fn same_model(a: &str, b: &str) -> bool {
    fn norm(name: &str) -> String {
        let last = name.rsplit('/').next().unwrap_or(name);
        if last.contains(':') {
            name.to_ascii_lowercase()
        } else {
            format!("{}:latest", name.to_ascii_lowercase())
        }
    }
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: ModelFacts = ModelFacts {
        num_ctx_parameter: Some(2048),
        context_length: Some(32768),
    };

    fn loaded(n: u64, ours: bool) -> Option<Loaded> {
        Some(Loaded {
            context_length: n,
            ours,
        })
    }

    #[test]
    fn num_ctx_wins() {
        let w = resolve(Some(8192), loaded(4096, true), FACTS);
        assert_eq!(w.tokens, 8192);
        assert_eq!(w.source, WindowSource::NumCtx);
        // 0 is not a window.
        assert_eq!(
            resolve(Some(0), None, FACTS).source,
            WindowSource::ModelParameter
        );
    }

    #[test]
    fn our_loaded_model_beats_the_parameter_but_a_foreign_one_does_not() {
        let w = resolve(None, loaded(4096, true), FACTS);
        assert_eq!((w.tokens, w.source), (4096, WindowSource::Loaded));
        let w = resolve(None, loaded(4096, false), FACTS);
        assert_eq!((w.tokens, w.source), (2048, WindowSource::ModelParameter));
        let no_param = ModelFacts {
            num_ctx_parameter: None,
            ..FACTS
        };
        let w = resolve(None, loaded(4096, false), no_param);
        assert_eq!((w.tokens, w.source), (4096, WindowSource::Loaded));
    }

    #[test]
    fn nothing_known_means_the_assumption_capped_by_the_model() {
        let w = resolve(None, None, ModelFacts::default());
        assert_eq!(
            (w.tokens, w.source),
            (ASSUMED_WINDOW, WindowSource::Assumed)
        );
        let small = ModelFacts {
            num_ctx_parameter: None,
            context_length: Some(1024),
        };
        assert_eq!(resolve(None, None, small).tokens, 1024);
        assert_eq!(resolve(None, loaded(0, true), small).tokens, 1024);
        assert!(!WindowSource::Assumed.is_known());
        assert!(WindowSource::Loaded.is_known());
    }

    fn show(parameters: &str, info: serde_json::Value) -> ModelInfo {
        ModelInfo {
            parameters: parameters.into(),
            model_info: info.as_object().cloned().unwrap_or_default(),
            ..ModelInfo::default()
        }
    }

    #[test]
    fn facts_from_show() {
        let info = serde_json::json!({
            "general.architecture": "gemma3",
            "gemma3.context_length": 32768,
            "llama.context_length": 8
        });
        let recorded = "top_p                          0.95\nnum_ctx                        2048\nstop                           \"<end_of_turn>\"";
        let f = ModelFacts::from_show(&show(recorded, info));
        assert_eq!(f.num_ctx_parameter, Some(2048));
        assert_eq!(f.context_length, Some(32768));
        let none = serde_json::json!({"gemma3.context_length": 32768});
        assert_eq!(
            ModelFacts::from_show(&show("", none)),
            ModelFacts::default()
        );
        for bad in ["num_ctx", "num_ctx abc", "num_ctx 0", "num_ctx_x 99"] {
            assert_eq!(
                ModelFacts::from_show(&show(bad, serde_json::json!({}))).num_ctx_parameter,
                None,
                "{bad}"
            );
        }
        let found =
            ModelFacts::from_show(&show("num_ctx_x 99\nnum_ctx 4096", serde_json::json!({})));
        assert_eq!(found.num_ctx_parameter, Some(4096));
        let bad = serde_json::json!({"general.architecture": "x", "x.context_length": "big"});
        assert_eq!(ModelFacts::from_show(&show("", bad)).context_length, None);
    }

    #[test]
    fn absurd_windows_are_not_reported() {
        assert_eq!(plausible_window(0), None);
        assert_eq!(plausible_window(1), Some(1));
        assert_eq!(
            plausible_window(MAX_PLAUSIBLE_TOKENS),
            Some(MAX_PLAUSIBLE_TOKENS)
        );
        assert_eq!(plausible_window(MAX_PLAUSIBLE_TOKENS + 1), None);
        let info = serde_json::json!({
            "general.architecture": "x",
            "x.context_length": u64::MAX
        });
        let f = ModelFacts::from_show(&show("num_ctx 18446744073709551615", info));
        assert_eq!(f, ModelFacts::default());
        let w = resolve(None, None, f);
        assert_eq!(w.tokens, ASSUMED_WINDOW);
        assert_eq!(w.source, WindowSource::Assumed);
    }

    #[test]
    fn model_names() {
        assert!(same_model("tiny", "tiny:latest"));
        assert!(same_model("Tiny:latest", "tiny"));
        assert!(same_model("user/m:7b", "user/m:7b"));
        assert!(!same_model("tiny", "tiny2"));
        assert!(!same_model("tiny:7b", "tiny"));
        assert!(same_model("host:5000/ns/m", "host:5000/ns/m:latest"));
    }
}
