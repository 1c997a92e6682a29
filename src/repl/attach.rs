//! Attachments in the REPL: `/image`, `/file`, `/attach`, `/detach`, and image paths and `@paths`
//! typed in a message. What is attached waits here until a message takes it; a message that is
//! not sent leaves it waiting.

use std::path::{Path, PathBuf};

use super::Repl;
use crate::attach::detect::{find_paths, split_paths, without_images, Found};
use crate::attach::{load_image, load_text, AttachError, Attachment};
use crate::config::Attach;
use crate::conversation::Image;
use crate::untrusted::sanitize_line;

/// The files waiting for the next message, and what `~/` means.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub items: Vec<Attachment>,
    pub home: Option<PathBuf>,
}

/// A message ready to send: its text with the files' blocks, and its images.
pub(super) struct Outgoing {
    pub content: String,
    pub images: Vec<Image>,
    /// Whether anything was attached (the waiting files, or paths in the text).
    pub attached: bool,
}

impl Repl<'_> {
    /// `--image` and `-f` given to a chat: waiting for its first message.
    pub(super) fn attach_from_flags(&mut self, attach: &Attach) {
        for path in &attach.images {
            self.add(load_image(path, attach.max_size).map(Attachment::Image));
        }
        for f in &attach.files {
            if f == "-" {
                self.error("-f - reads stdin, which is this terminal: pipe the file in with -p, or use /file PATH");
                continue;
            }
            self.add(load_text(Path::new(f), attach.max_size).map(Attachment::Text));
        }
    }

    /// `/image PATH…` and `/file PATH…`.
    pub(super) fn attach_command(&mut self, rest: &str, images: bool) {
        let max = self.chat.config.attach.max_size;
        for path in split_paths(rest, self.pending.home.as_deref()) {
            let loaded = match images {
                true => load_image(&path, max).map(Attachment::Image),
                false => load_text(&path, max).map(Attachment::Text),
            };
            self.add(loaded);
        }
    }

    fn add(&mut self, loaded: Result<Attachment, AttachError>) {
        match loaded {
            Ok(a) => {
                self.note(&sanitize_line(&a.describe()));
                self.pending.items.push(a);
            }
            Err(e) => self.error(&sanitize_line(&e.to_string())),
        }
    }

    /// Whether `text` begins with the path of an image that is there (`/home/me/cat.png what is
    /// this?`): a message, not an unknown command.
    pub(super) fn starts_with_a_file(&self, text: &str) -> bool {
        let text = text.trim_start();
        let is_file = |p: &Path| p.is_file();
        find_paths(text, self.pending.home.as_deref(), &is_file)
            .first()
            .is_some_and(|f| matches!(f, Found::Image { span, .. } if span.start == 0))
    }

    /// `/attach`: what goes with the next message, numbered for `/detach`.
    pub(super) fn list_attachments(&self) {
        if self.pending.items.is_empty() {
            self.note("Nothing is attached to the next message (/image PATH, /file PATH, or a path in the message).");
            return;
        }
        for (i, a) in self.pending.items.iter().enumerate() {
            println!("{:>3}  {}", i + 1, sanitize_line(&a.describe()));
        }
    }

    /// `/detach [N]`.
    pub(super) fn detach(&mut self, n: Option<usize>) {
        let len = self.pending.items.len();
        let at = match n {
            None if len > 0 => len - 1,
            Some(n) if (1..=len).contains(&n) => n - 1,
            _ if len == 0 => return self.note("Nothing is attached."),
            Some(n) => {
                return self.error(&format!("there is no attachment {n} (/attach lists {len})"))
            }
            None => unreachable!("len is 0 above"),
        };
        let dropped = self.pending.items.remove(at);
        self.note(&format!("Dropped {}.", sanitize_line(&dropped.describe())));
    }

    /// The message as it goes out: image paths typed in it attached and taken out of the text,
    /// `@paths` attached after it, then the waiting files (with `look` false, only the waiting
    /// files). A path that names no file stays text;
    /// one that names a file that cannot be attached stops the message (`Err`, said already).
    pub(super) fn outgoing(&mut self, input: &str, look: bool) -> Result<Outgoing, ()> {
        let is_file = |p: &Path| look && p.is_file();
        let found = find_paths(input, self.pending.home.as_deref(), &is_file);
        let max = self.chat.config.attach.max_size;
        let mut typed = Vec::new();
        for f in &found {
            let loaded = match f {
                Found::Image { path, .. } => load_image(path, max).map(Attachment::Image),
                Found::At { path, .. } => Attachment::load(path, max),
            };
            match loaded {
                Ok(a) => typed.push(a),
                Err(e) => {
                    self.error(&format!(
                        "{}; nothing was sent",
                        sanitize_line(&e.to_string())
                    ));
                    return Err(());
                }
            }
        }
        for a in &typed {
            self.note(&sanitize_line(&a.describe()));
        }
        let text = without_images(input, &found);
        let attached = !typed.is_empty() || !self.pending.items.is_empty();
        let all: Vec<Attachment> = self.pending.items.iter().cloned().chain(typed).collect();
        let (content, images) = crate::attach::compose(&text, all);
        Ok(Outgoing {
            content,
            images,
            attached,
        })
    }
}
