//! `/copy [N]`: the last reply, or its N-th fenced code block, to the clipboard through the OSC 52
//! terminal sequence (which also works over SSH). Finding the blocks is pure.

use base64::Engine as _;

use crate::untrusted::sanitize;

/// A fenced code block of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// The info string after the fence (`python`), empty when none.
    pub lang: String,
    pub body: String,
}

/// The fenced code blocks (``` or ~~~) of markdown text, in order. A block left open at the end
/// (a reply cut short) runs to the end of the text.
pub fn code_blocks(text: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, CodeBlock)> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let fence = fence_of(t).filter(|_| indent <= 3);
        match (&mut open, fence) {
            (None, Some((c, n))) => {
                let lang = t[n..].split_whitespace().next().unwrap_or("").to_string();
                open = Some((
                    c,
                    n,
                    CodeBlock {
                        lang,
                        body: String::new(),
                    },
                ));
            }
            (Some((oc, on, _)), Some((c, n)))
                if c == *oc && n >= *on && t[n..].trim().is_empty() =>
            {
                if let Some((_, _, b)) = open.take() {
                    blocks.push(b);
                }
            }
            (Some((_, _, b)), _) => {
                b.body.push_str(line);
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks.extend(open.map(|(_, _, b)| b));
    blocks
}

/// The fence character and its run length, when `t` starts with at least three of ` or ~.
fn fence_of(t: &str) -> Option<(char, usize)> {
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

/// The escape sequence that asks the terminal to put `text` on the clipboard. Written by us on
/// purpose; model text can never produce it because the renderer shows escapes as symbols. The
/// text is the model's, so it is sanitised first: pasted later into a shell, an escape in it
/// (an end-of-bracketed-paste sequence, a carriage return hiding a command) would act there.
pub fn osc52(text: &str) -> String {
    let text = sanitize(text);
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{b64}\x07")
}

/// What `/copy` selected, with the sentence that tells the user.
#[derive(Debug, PartialEq, Eq)]
pub struct Selection {
    pub text: String,
    pub description: String,
}

/// Picks what to copy from the last reply. The error is the message to show.
pub fn select(reply: Option<&str>, n: Option<usize>) -> Result<Selection, String> {
    let reply = reply
        .filter(|r| !r.is_empty())
        .ok_or("There is no reply to copy yet.")?;
    let Some(n) = n else {
        return Ok(Selection {
            text: reply.to_string(),
            description: format!("the last reply ({})", size(reply)),
        });
    };
    let blocks = code_blocks(reply);
    let block = blocks.get(n - 1).ok_or_else(|| match blocks.len() {
        0 => "The last reply has no code block.".to_string(),
        1 => "The last reply has only 1 code block.".to_string(),
        k => format!("The last reply has only {k} code blocks."),
    })?;
    let lang = if block.lang.is_empty() {
        String::new()
    } else {
        format!("{}, ", block.lang)
    };
    Ok(Selection {
        text: block.body.clone(),
        description: format!("code block {n} ({lang}{})", size(&block.body)),
    })
}

fn size(text: &str) -> String {
    let lines = text.lines().count();
    let chars = text.chars().count();
    let l = if lines == 1 { "line" } else { "lines" };
    let c = if chars == 1 {
        "character"
    } else {
        "characters"
    };
    format!("{lines} {l}, {chars} {c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "Here:\n```python\nprint('hi')\nx = 1\n```\nand\n~~~\nls -l\n~~~\nend";

    #[test]
    fn finds_blocks_in_order() {
        let b = code_blocks(REPLY);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0],
            CodeBlock {
                lang: "python".into(),
                body: "print('hi')\nx = 1\n".into()
            }
        );
        assert_eq!(
            b[1],
            CodeBlock {
                lang: String::new(),
                body: "ls -l\n".into()
            }
        );
    }

    #[test]
    fn fences_must_match_to_close() {
        let b = code_blocks("````md\n```\ninner\n```\n````\n");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].body, "```\ninner\n```\n");
        let b = code_blocks("```\nopen to the end\n你好");
        assert_eq!(b[0].body, "open to the end\n你好\n");
        assert!(code_blocks("no code here").is_empty());
        assert!(code_blocks("    ```\nindented four is not a fence").is_empty());
    }

    #[test]
    fn osc52_is_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
        assert_eq!(osc52("你好"), "\x1b]52;c;5L2g5aW9\x07");
        // An end-of-paste sequence and a carriage return never reach the clipboard.
        let b64 = base64::engine::general_purpose::STANDARD.encode("ls␛[201~rm -rf ~\n");
        assert_eq!(
            osc52("ls\x1b[201~\rrm -rf ~\n"),
            format!("\x1b]52;c;{b64}\x07")
        );
    }

    #[test]
    fn selection_and_messages() {
        let s = select(Some(REPLY), None).unwrap();
        assert_eq!(s.text, REPLY);
        assert_eq!(s.description, "the last reply (10 lines, 59 characters)");
        let s = select(Some(REPLY), Some(1)).unwrap();
        assert_eq!(s.text, "print('hi')\nx = 1\n");
        assert_eq!(
            s.description,
            "code block 1 (python, 2 lines, 18 characters)"
        );
        assert_eq!(
            select(Some(REPLY), Some(2)).unwrap().description,
            "code block 2 (1 line, 6 characters)"
        );
        assert_eq!(
            select(Some(REPLY), Some(3)).unwrap_err(),
            "The last reply has only 2 code blocks."
        );
        assert_eq!(
            select(Some("plain"), Some(1)).unwrap_err(),
            "The last reply has no code block."
        );
        assert_eq!(
            select(None, None).unwrap_err(),
            "There is no reply to copy yet."
        );
    }
}
