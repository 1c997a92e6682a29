//! A small virtual terminal for the tests: it plays the renderer's bytes (text, `\n` as CR LF,
//! `\r`, tabs, cursor up, clear to the end of the screen or line, SGR, OSC 8) on a grid that
//! folds at its width, and shows the final screen with each cell's style. Any other escape
//! fails the test: the renderer may write no other.

use unicode_width::UnicodeWidthChar;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cell {
    ch: String,
    sgr: String,
    link: String,
}

pub struct Screen {
    width: usize,
    rows: Vec<Vec<Cell>>,
    row: usize,
    col: usize,
    sgr: String,
    link: String,
}

impl Screen {
    pub fn new(width: usize) -> Screen {
        Screen {
            width,
            rows: vec![Vec::new()],
            row: 0,
            col: 0,
            sgr: String::new(),
            link: String::new(),
        }
    }

    /// Plays `bytes` on the screen.
    pub fn play(&mut self, bytes: &str) {
        let mut it = bytes.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '\n' => {
                    self.row += 1;
                    self.col = 0;
                }
                '\r' => self.col = 0,
                '\t' => self.col = ((self.col / 8 + 1) * 8).min(self.width.saturating_sub(1)),
                '\x1b' => match it.next() {
                    Some('[') => {
                        let mut params = String::new();
                        let fin = loop {
                            match it.next() {
                                Some(p @ ('0'..='9' | ';')) => params.push(p),
                                Some(f) => break f,
                                None => panic!("an unfinished CSI"),
                            }
                        };
                        self.csi(&params, fin);
                    }
                    Some(']') => {
                        let mut body = String::new();
                        loop {
                            match it.next() {
                                Some('\x1b') => {
                                    assert_eq!(it.next(), Some('\\'), "OSC ends with ST");
                                    break;
                                }
                                Some(ch) => body.push(ch),
                                None => panic!("an unfinished OSC"),
                            }
                        }
                        let url = body
                            .strip_prefix("8;;")
                            .unwrap_or_else(|| panic!("an OSC other than 8: {body:?}"));
                        self.link = url.to_string();
                    }
                    other => panic!("an escape the renderer must not write: {other:?}"),
                },
                c if (c as u32) < 0x20 || c == '\x7f' => panic!("a raw control {c:?}"),
                c => self.put(c),
            }
        }
    }

    fn csi(&mut self, params: &str, fin: char) {
        match fin {
            'm' => {
                self.sgr = if params.is_empty() || params == "0" {
                    String::new()
                } else {
                    params.trim_start_matches("0;").to_string()
                }
            }
            'A' => {
                let n: usize = params.parse().unwrap_or(1);
                self.row = self.row.saturating_sub(n);
            }
            'J' => {
                self.rows.truncate(self.row + 1);
                let col = self.col;
                self.line().truncate(col);
            }
            'K' => {
                let col = self.col;
                self.line().truncate(col);
            }
            other => panic!("a CSI the renderer must not write: {other:?}"),
        }
    }

    fn line(&mut self) -> &mut Vec<Cell> {
        while self.rows.len() <= self.row {
            self.rows.push(Vec::new());
        }
        &mut self.rows[self.row]
    }

    fn put(&mut self, c: char) {
        let w = c.width().unwrap_or(0);
        if w == 0 {
            if let Some(last) = self.line().last_mut() {
                last.ch.push(c);
            }
            return;
        }
        if self.col + w > self.width {
            self.row += 1;
            self.col = 0;
        }
        let cell = Cell {
            ch: c.to_string(),
            sgr: self.sgr.clone(),
            link: self.link.clone(),
        };
        let rest = Cell {
            ch: String::new(),
            ..cell.clone()
        };
        let col = self.col;
        let line = self.line();
        while line.len() < col {
            line.push(Cell {
                ch: " ".into(),
                sgr: String::new(),
                link: String::new(),
            });
        }
        line.truncate(col);
        line.push(cell);
        for _ in 1..w {
            line.push(rest.clone());
        }
        self.col += w;
    }

    /// The screen as text, one line per row, trailing spaces and empty rows at the end removed.
    pub fn text(&self) -> String {
        self.render(false)
    }

    /// The same with each change of style shown as `⟨sgr⟩` (`⟨⟩`: back to plain) and links as
    /// `⟦url⟧ … ⟦⟧`.
    pub fn styled(&self) -> String {
        self.render(true)
    }

    fn render(&self, styled: bool) -> String {
        let mut out = Vec::new();
        for row in &self.rows {
            let mut s = String::new();
            let (mut sgr, mut link) = (String::new(), String::new());
            for cell in row {
                if styled && cell.link != link {
                    link = cell.link.clone();
                    s.push_str(&format!("⟦{link}⟧"));
                }
                if styled && cell.sgr != sgr && !(cell.ch == " " && cell.sgr.is_empty()) {
                    sgr = cell.sgr.clone();
                    s.push_str(&format!("⟨{sgr}⟩"));
                }
                s.push_str(&cell.ch);
            }
            if styled && !sgr.is_empty() {
                s.push_str("⟨⟩");
            }
            out.push(s.trim_end().to_string());
        }
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        out.join("\n")
    }
}
