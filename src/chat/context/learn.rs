//! Learning the model's facts for the budget with as few round trips as possible: what finished
//! in the background, the cache the last run left, and only when the budget depends on it the
//! server itself; and what a refusal over the window teaches.

use super::super::facts::{self, Ask, Learned};
use crate::chat::Chat;
use crate::context::cache::Entry;
use crate::context::window::{Loaded, ModelFacts};
use crate::models::ModelInfo;

impl Chat<'_> {
    /// Starts learning the model's facts in the background (the REPL, while the person types):
    /// its digest for the cache, and with `preload` the model loaded as our requests will load
    /// it, then its window; `show` is what the REPL already learned from `/api/show`.
    pub fn learn_in_background(&mut self, show: Option<&ModelInfo>, preload: bool) {
        if self.context.model.as_deref() != Some(self.model.as_str()) {
            self.context.forget(&self.model);
        }
        if !self.backend.capabilities().model_facts || self.context.background.is_some() {
            return;
        }
        if let Some(show) = show {
            self.absorb_show(show);
        }
        let ask = Ask {
            show: self.context.facts.is_none(),
            digest: true,
            preload: preload.then(|| {
                (
                    self.settings.options.clone(),
                    self.settings.keep_alive.clone(),
                )
            }),
            ps: true,
            ours: false,
        };
        self.context.preloading = preload;
        self.context.background = Some(facts::spawn(
            self.backend,
            &self.model,
            ask,
            self.fact_limits(),
        ));
    }

    /// Reads the window our last reply was given from `/api/ps` while the person types.
    pub(crate) fn check_window_in_background(&mut self) {
        if self.context.background.is_some() || !self.backend.capabilities().model_facts {
            return;
        }
        let ask = Ask {
            ps: true,
            ours: true,
            ..Ask::default()
        };
        self.context.background = Some(facts::spawn(
            self.backend,
            &self.model,
            ask,
            self.fact_limits(),
        ));
    }

    fn fact_limits(&self) -> facts::Limits {
        facts::Limits {
            load: self.config.load_timeout,
            idle: self.config.stall_timeout,
        }
    }

    /// What the client knows of the window before a request, learned with as few round trips
    /// as it can: what background work has finished, else the cache the last run left; only
    /// when `need` (the budget depends on it) does it wait for the server, asking `/api/show`
    /// and `/api/tags` at once. Once per model; an unreachable server is asked again next time.
    /// Only Ollama's API can say: with an OpenAI-compatible server the window is known only from
    /// `num_ctx` (which it refuses).
    pub async fn learn_window(&mut self, need: bool) {
        if self.context.model.as_deref() != Some(self.model.as_str()) {
            // `/model` and `/load` switch models: what was learned was about the old one.
            self.context.forget(&self.model);
        }
        self.absorb_background(false).await;
        if self.context.facts.is_some() || !self.backend.capabilities().model_facts {
            return;
        }
        if self.read_cached_facts() || !need {
            return;
        }
        self.absorb_background(true).await;
        if self.context.facts.is_some() {
            return;
        }
        let ask = Ask {
            show: true,
            digest: self.config.facts_cache.is_some(),
            ..Ask::default()
        };
        let learned = facts::learn(self.backend, &self.model, ask, self.fact_limits()).await;
        if learned.show.is_none() {
            // No server, or no such model: the chat request will say so better than a budget.
            return;
        }
        self.absorb(learned);
        if let Some(w) = self.window() {
            tracing::info!("context window: {} tokens, from {}", w.tokens, w.source);
        }
    }

    /// Takes what the background work learned: when it is done, or with `wait` when it is not.
    pub(crate) async fn absorb_background(&mut self, wait: bool) {
        let Some(task) = self.context.background.take() else {
            return;
        };
        if !wait && !task.is_finished() {
            self.context.background = Some(task);
            return;
        }
        self.context.preloading = false;
        if let Ok(learned) = task.await {
            self.absorb(learned);
        }
    }

    /// Keeps what was learned, and the facts in the cache when the model's digest is known.
    fn absorb(&mut self, learned: Learned) {
        if let Some(show) = &learned.show {
            self.absorb_show(show);
        }
        if let Some((n, ours)) = learned.loaded {
            let known_ours = self.context.loaded.is_some_and(|(l, _)| l.ours);
            if let Some(asked) = self.num_ctx().filter(|&a| ours && n < a) {
                self.warn(&format!(
                    "Ollama loaded {} with a {n}-token context window, not the num_ctx={asked} asked for; budgeting for {n}",
                    self.model
                ));
            }
            if ours || !known_ours {
                self.context.loaded = Some((
                    Loaded {
                        context_length: n,
                        ours,
                    },
                    self.num_ctx(),
                ));
                self.context.confirmed |= ours;
            }
        }
        if let Some(digest) = learned.digest {
            self.context.digest = Some(digest);
        }
        self.keep_in_cache();
    }

    fn absorb_show(&mut self, show: &ModelInfo) {
        self.context.facts = Some(ModelFacts::from_show(show));
        self.context.thinking = Some(show.can_think());
        self.context.history = show.messages.clone();
    }

    /// The facts the last run kept for this model on this server, if any.
    fn read_cached_facts(&mut self) -> bool {
        let Some(path) = &self.config.facts_cache else {
            return false;
        };
        let cache = facts::read_cache(path);
        let Some(entry) = cache.get(self.backend.base_url(), &self.model) else {
            return false;
        };
        tracing::info!("model facts of {} from {}", self.model, path.display());
        self.context.facts = Some(entry.facts());
        self.context.thinking = Some(entry.thinking);
        self.context.history = entry.messages.clone();
        self.context.digest = Some(entry.digest.clone());
        true
    }

    /// Writes what is known of the model to the cache, when its digest is known.
    fn keep_in_cache(&self) {
        let (Some(path), Some(digest), Some(f)) = (
            &self.config.facts_cache,
            &self.context.digest,
            self.context.facts,
        ) else {
            return;
        };
        let mut cache = facts::read_cache(path);
        let entry = Entry {
            host: self.backend.base_url().to_string(),
            model: self.model.clone(),
            digest: digest.clone(),
            num_ctx_parameter: f.num_ctx_parameter,
            context_length: f.context_length,
            thinking: self.context.thinking.unwrap_or(false),
            messages: self.context.history.clone(),
        };
        if cache.get(&entry.host, &entry.model) == Some(&entry) {
            return;
        }
        cache.put(entry);
        facts::write_cache(path, &cache);
    }

    /// The server refused a prompt over its window: the window is what it said, and the cache's
    /// facts (which led to the estimate) are not to be trusted.
    pub(crate) fn learn_refusal(&mut self, prompt_tokens: u64, window: u64, expected: u64) {
        self.context.loaded = Some((
            Loaded {
                context_length: window,
                ours: true,
            },
            self.num_ctx(),
        ));
        self.context.confirmed = true;
        let factor = prompt_tokens as f64 / expected.max(1) as f64;
        if factor > 1.0 {
            self.context.estimator.scale(factor);
        }
        if let Some(path) = &self.config.facts_cache {
            let mut cache = facts::read_cache(path);
            cache.forget(self.backend.base_url(), &self.model);
            facts::write_cache(path, &cache);
        }
    }
}
