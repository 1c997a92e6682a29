//! `/set …`: changes that last for the rest of the run (request settings live in
//! `Chat::settings`, display ones in the REPL's `View`).

use super::command::Setting;
use super::help::parameter_list;
use super::Repl;
use crate::cli::Keys;
use crate::conversation::Think;
use crate::session::Change;

impl Repl<'_> {
    pub(super) fn set(&mut self, setting: Setting) {
        let note = match setting {
            Setting::ListParameters => {
                print!("{}", parameter_list(&self.chat.settings.options));
                return;
            }
            Setting::Parameter { name, values } => {
                let mut options = self.chat.settings.options.clone();
                let result = if name == "stop" {
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    options.set_list(&name, &values)
                } else {
                    options.set(&name, &values[0])
                };
                if let Err(e) = result {
                    return self.error(&e.to_string());
                }
                // Through the session, so a resumed chat sends the same options.
                self.change(Change::Set {
                    options: Some(options),
                    system: None,
                });
                format!("Set parameter '{name}' to '{}'.", values.join(", "))
            }
            Setting::System(text) => {
                self.change(Change::Set {
                    options: None,
                    system: Some(Some(text)),
                });
                "Set system message.".to_string()
            }
            Setting::Verbose(on) => {
                self.view.verbose = on;
                format!("Set '{}' mode.", if on { "verbose" } else { "quiet" })
            }
            Setting::Format(format) => {
                let note = match &format {
                    Some(serde_json::Value::String(f)) => format!("Set format to '{f}' mode."),
                    Some(_) => "Set format to the JSON schema given.".to_string(),
                    None => "Disabled format.".to_string(),
                };
                self.chat.settings.format = format;
                note
            }
            Setting::Think(think) => {
                let note = match &think {
                    Think::On(true) => "Set 'think' mode.".to_string(),
                    Think::On(false) => "Set 'nothink' mode.".to_string(),
                    Think::Level(l) => format!("Set 'think' mode with level '{l}'."),
                };
                self.chat.settings.think = Some(think);
                note
            }
            Setting::WordWrap(on) => {
                self.view.wordwrap = on;
                format!("Set '{}' mode.", if on { "wordwrap" } else { "nowordwrap" })
            }
            Setting::Markdown(on) => {
                self.view.markdown = on;
                let how = if on { "on" } else { "off" };
                if on && !self.term.stdout.tty {
                    format!("Set markdown {how} (it shows only on a terminal).")
                } else {
                    format!("Set markdown {how}.")
                }
            }
            Setting::Context(strategy) => {
                // A client setting, like the format: it changes no request and is not saved.
                self.chat.context.strategy = strategy;
                format!("Set context strategy to '{strategy}'.")
            }
            Setting::HideThinking(hide) => {
                self.view.hide_thinking = hide;
                match hide {
                    true => "Set 'hidethinking' mode.".to_string(),
                    false => "Set 'nohidethinking' mode.".to_string(),
                }
            }
            Setting::Keys(keys) => {
                self.view.keys = keys;
                match keys {
                    Keys::Vi => "Set 'vi' keys: Esc for normal mode, i to insert.".to_string(),
                    Keys::Emacs => "Set 'emacs' keys.".to_string(),
                }
            }
            Setting::History(on) => {
                self.view.history = on;
                format!("Set '{}' mode.", if on { "history" } else { "nohistory" })
            }
        };
        self.note(&note);
    }
}
