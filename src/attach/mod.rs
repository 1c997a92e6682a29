//! Files into the conversation: images for vision models and text files as fenced blocks, from
//! `--image`/`-f`, `/image`/`/file`, `@path` and image paths typed in a message.
//!
//! Layout: `sniff` (a file's type from its bytes), `read` (reading an image or a text file within
//! a size limit), `detect` (paths in a typed message, pure); this file (the error, and what is
//! waiting to go with the next message).

pub mod detect;
pub mod read;
pub mod sniff;

use std::path::Path;

use crate::conversation::Image;

pub use read::{load_image, load_text, TextFile};

/// The default of `--max-attachment-size`: larger than any photo a vision model can use.
pub const DEFAULT_MAX_SIZE: u64 = 20 * 1000 * 1000;

/// Why a file cannot be attached. Each is one line that names the file and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("{path} {what}")]
    NotAFile { path: String, what: String },
    #[error("{path} is a folder; attach the files in it one by one")]
    Folder { path: String },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path} is {} (more than the {} allowed; raise it with --max-attachment-size)", crate::error::human_bytes(*.size), crate::error::human_bytes(*.max))]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("{path} is not an image (PNG, JPEG, WebP or GIF, told by its bytes, not its name)")]
    NotAnImage { path: String },
    #[error("{path} is an image ({media_type}); attach it with --image or /image")]
    ImageAsText {
        path: String,
        media_type: &'static str,
    },
    #[error("{path} looks like a binary file, not text")]
    Binary { path: String },
    #[error("{path} is not UTF-8 text (invalid bytes at offset {offset})")]
    NotUtf8 { path: String, offset: usize },
}

/// One file waiting to go with the next message.
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    Image(Image),
    Text(TextFile),
}

impl Attachment {
    /// The file as an attachment: an image when its bytes say so, else text.
    pub fn load(path: &Path, max: u64) -> Result<Attachment, AttachError> {
        match load_image(path, max) {
            Ok(i) => Ok(Attachment::Image(i)),
            Err(AttachError::NotAnImage { .. }) => load_text(path, max).map(Attachment::Text),
            Err(e) => Err(e),
        }
    }

    /// The dim line that says what is attached: `[image: cat.png, 182 KB]`.
    pub fn describe(&self) -> String {
        match self {
            Attachment::Image(i) => describe_image(i),
            Attachment::Text(t) => format!(
                "[file: {}, {}]",
                t.name,
                crate::error::human_bytes(t.text.len() as u64)
            ),
        }
    }
}

/// `[image: cat.png, 182 KB]`: how an image is shown in the chat, in `replay` and in re-runs.
pub fn describe_image(i: &Image) -> String {
    format!("[image: {}, {}]", i.name, crate::error::human_bytes(i.size))
}

/// The message text with the text files' blocks after it, in the order given, and the images.
pub fn compose(text: &str, attachments: Vec<Attachment>) -> (String, Vec<Image>) {
    let mut content = text.to_string();
    let mut images = Vec::new();
    for a in attachments {
        match a {
            Attachment::Image(i) => images.push(i),
            Attachment::Text(t) => {
                if !content.is_empty() {
                    content.push_str("\n\n");
                }
                content.push_str(&t.block());
            }
        }
    }
    (content, images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composing_keeps_the_order_given() {
        let t = |n: &str| {
            Attachment::Text(TextFile {
                name: n.into(),
                text: format!("{n} text"),
            })
        };
        let img = Image::from_bytes("cat.png", "image/png", b"\x89PNG\r\n\x1a\n");
        let (content, images) = compose(
            "compare",
            vec![t("a.txt"), Attachment::Image(img.clone()), t("b.txt")],
        );
        assert_eq!(
            content,
            "compare\n\na.txt:\n```\na.txt text\n```\n\nb.txt:\n```\nb.txt text\n```"
        );
        assert_eq!(images, vec![img.clone()]);
        assert_eq!(compose("", vec![t("a")]).0, "a:\n```\na text\n```");
        assert_eq!(Attachment::Image(img).describe(), "[image: cat.png, 8 B]");
    }

    #[test]
    fn sizes_in_messages() {
        let e = AttachError::TooLarge {
            path: "big.png".into(),
            size: 25_000_000,
            max: DEFAULT_MAX_SIZE,
        };
        assert_eq!(
            e.to_string(),
            "big.png is 25 MB (more than the 20 MB allowed; raise it with --max-attachment-size)"
        );
    }
}
