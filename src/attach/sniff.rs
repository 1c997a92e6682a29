//! What a file is, found from its first bytes, never from its name: a `.png` that is really a
//! script is refused, a JPEG saved as `.png` is sent as the JPEG it is.

/// The image types every vision API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }
}

/// How many leading bytes [`sniff`] needs to decide.
pub const SNIFF_LEN: usize = 12;

/// The image type the bytes start with, if any.
pub fn sniff(head: &[u8]) -> Option<ImageType> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageType::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageType::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageType::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(ImageType::Webp)
    } else {
        None
    }
}

/// Whether a file whose name ends so is meant as an image (path detection in typed messages).
pub fn has_image_extension(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ["png", "jpg", "jpeg", "webp", "gif"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
}

/// Whether the bytes look binary rather than text: a NUL in the first 8 KiB (as git and grep
/// decide), or an image's signature.
pub fn looks_binary(head: &[u8]) -> bool {
    let head = &head[..head.len().min(8192)];
    head.contains(&0) || sniff(head).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageType::Png)
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(sniff(b"GIF89a\x01\0"), Some(ImageType::Gif));
        assert_eq!(sniff(b"GIF87a"), Some(ImageType::Gif));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(ImageType::Webp.media_type(), "image/webp");
    }

    #[test]
    fn near_misses_are_not_images() {
        for head in [
            &b""[..],
            b"\x89PN",
            b"\x89PNG\r\n\x1a",   // cut short
            b"\x89png\r\n\x1a\n", // wrong case
            b"\xFF\xD8",
            b"GIF88a",
            b"RIFF\x24\0\0\0WAVEfmt ", // a WAV, not a WebP
            b"RIFF\x24\0\0\0WEB",
            b"#!/bin/sh\nrm -rf ~\n", // a script named cat.png
            "貓.png".as_bytes(),
        ] {
            assert_eq!(sniff(head), None, "{head:?}");
        }
    }

    #[test]
    fn extensions_any_case_and_only_at_the_end() {
        for yes in [
            "cat.png",
            "a.JPG",
            "b.jpeg",
            "c.WebP",
            "d.gif",
            "照片.png",
            ".x.png",
        ] {
            assert!(has_image_extension(yes), "{yes}");
        }
        for no in [
            "png",
            "cat.png.txt",
            "cat.pngx",
            "cat.",
            "cat",
            "a.svg",
            "a.bmp",
            "a.tiff",
        ] {
            assert!(!has_image_extension(no), "{no}");
        }
    }

    #[test]
    fn binary_or_text() {
        assert!(looks_binary(b"ab\0cd"));
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n"));
        assert!(!looks_binary("純文字\n".as_bytes()));
        assert!(!looks_binary(b""));
        let mut late = vec![b'a'; 9000];
        late.push(0);
        assert!(!looks_binary(&late), "only the first 8 KiB are looked at");
    }
}
