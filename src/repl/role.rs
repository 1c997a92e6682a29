//! `/role NAME`: a saved role's system prompt, options, model and request settings, applied to
//! the chat as the matching `/set` and `/model` commands would; `/role` alone lists the roles.

use clap::Parser;

use super::Repl;
use crate::cli::Cli;
use crate::config::Config;
use crate::config_file::roles;
use crate::session::Change;
use crate::untrusted::sanitize_line;

impl Repl<'_> {
    pub(super) fn role(&mut self, name: Option<&str>) {
        let list = &self.chat.config.roles;
        let Some(name) = name else {
            let names = roles::list_names(list);
            if names.is_empty() {
                self.note("No roles: add [roles.NAME] to the config file, or a file to its roles/ folder.");
            }
            let current = self.chat.settings.role.as_deref();
            for n in names {
                let mark = if current == Some(n.as_str()) {
                    '*'
                } else {
                    ' '
                };
                println!("{mark} {}", sanitize_line(&n));
            }
            return;
        };
        let words = match roles::find_words(list, name) {
            Ok(w) => w,
            Err(e) => return self.error(&e.to_string()),
        };
        let resolved = match resolve(&words) {
            Ok(c) => c,
            Err(e) => return self.error(&format!("role {name}: {e}")),
        };
        let sets = |long: &str| {
            let flag = format!("--{long}");
            words
                .iter()
                .any(|w| *w == flag || w.starts_with(&format!("{flag}=")))
        };
        let mut said = Vec::new();
        if let Some(system) = resolved.system.filter(|_| sets("system")) {
            self.change(Change::Set {
                options: None,
                system: Some(Some(system)),
            });
            said.push("system prompt".to_string());
        }
        if !resolved.options.is_empty() {
            // The role's options replace the chat's of the same name; the others stay.
            let mut options = self.chat.settings.options.clone();
            for (k, _) in resolved.options.iter() {
                options.unset(k);
            }
            for pair in words.iter().filter_map(|w| w.strip_prefix("--option=")) {
                // Checked when the role was read.
                let _ = options.set_pair(pair);
            }
            self.change(Change::Set {
                options: Some(options),
                system: None,
            });
            said.push(format!("{} option(s)", resolved.options.iter().count()));
        }
        if sets("think") {
            self.chat.settings.think = resolved.think;
            said.push("think".into());
        }
        if sets("format") {
            self.chat.settings.format = resolved.format;
            said.push("format".into());
        }
        if sets("keep-alive") {
            self.chat.settings.keep_alive = resolved.keep_alive;
            said.push("keep_alive".into());
        }
        self.change(Change::Role {
            role: name.to_string(),
        });
        self.chat.settings.role = Some(name.to_string());
        let what = if said.is_empty() {
            String::new()
        } else {
            format!(": {}", said.join(", "))
        };
        self.note(&format!("Using role '{}'{what}.", sanitize_line(name)));
        if let Some(model) = resolved.model.filter(|_| sets("model")) {
            self.load(&model, false);
        }
    }
}

/// The role's settings as a run would take them.
fn resolve(words: &[String]) -> anyhow::Result<Config> {
    let mut argv = vec!["ollama-chat".to_string()];
    argv.extend(words.iter().cloned());
    let cli = Cli::try_parse_from(argv)?;
    Ok(Config::resolve(cli, &|_| None)?)
}
