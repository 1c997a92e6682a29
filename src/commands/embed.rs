//! `ollama-chat embed`: embedding vectors for texts, from Ollama's `/api/embed` or an
//! OpenAI-compatible `/embeddings`, as one JSON document or NDJSON, sent in batches, and logged
//! like a turn (`call: "embed"`).

use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

use tokio::runtime::Runtime;
use uuid::Uuid;

use crate::backend::Backend;
use crate::cli::EmbedArgs;
use crate::config::Config;
use crate::conversation::FinalStats;
use crate::exit_code::ExitCode;
use crate::log::{ContextLog, TurnContext, TurnLog, TurnRecord};
use crate::options::Options;
use crate::turn::{Ending, TurnOutcome};
use crate::UsageError;

/// The most stdin is read for inputs.
const MAX_STDIN: u64 = 256 << 20;

pub fn run(
    rt: &Runtime,
    backend: &Backend,
    config: &Config,
    args: &EmbedArgs,
) -> anyhow::Result<ExitCode> {
    let model = args
        .model
        .clone()
        .or_else(|| config.model.clone())
        .ok_or_else(|| UsageError("embed needs a model: -m NAME (or OLLAMA_CHAT_MODEL)".into()))?;
    let stdin = if args.texts.is_empty() {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .take(MAX_STDIN + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_STDIN {
            return Err(UsageError("stdin is larger than 256 MiB; nothing was sent".into()).into());
        }
        Some(String::from_utf8(bytes).map_err(|_| UsageError("stdin is not UTF-8 text".into()))?)
    } else {
        None
    };
    let inputs = inputs(&args.texts, stdin.as_deref())?;
    let started_at = chrono::Utc::now();
    let start = Instant::now();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut printer = Printer::new(&model, args.ndjson);
    let mut prompt_tokens: Option<u64> = None;
    let mut failure = None;
    for (n, batch) in inputs.chunks(args.batch as usize).enumerate() {
        match rt.block_on(backend.embed(&model, batch, args.dimensions)) {
            Ok(e) => {
                if let Some(t) = e.prompt_tokens {
                    prompt_tokens = Some(prompt_tokens.unwrap_or(0).saturating_add(t));
                }
                printer.batch(&mut out, n * args.batch as usize, &e.vectors)?;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_none() {
        printer.finish(&mut out)?;
    }
    out.flush()?;
    let outcome = TurnOutcome {
        started_at,
        content: String::new(),
        thinking: String::new(),
        stats: failure.is_none().then(|| FinalStats {
            prompt_eval_count: prompt_tokens,
            eval_count: Some(0),
            ..FinalStats::default()
        }),
        ttft: None,
        elapsed: start.elapsed(),
        ending: match failure {
            Some(e) => Ending::Failed(e),
            None => Ending::Done,
        },
        tool_calls: Vec::new(),
    };
    log(config, backend, &model, &inputs, &outcome);
    match outcome.ending {
        Ending::Failed(e) => Err(e.into()),
        _ => Ok(ExitCode::Success),
    }
}

/// The inputs: the arguments, else each non-empty line of stdin (a CR before the newline is
/// not part of the text).
pub fn inputs(texts: &[String], stdin: Option<&str>) -> Result<Vec<String>, UsageError> {
    let inputs: Vec<String> = if texts.is_empty() {
        stdin
            .unwrap_or("")
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    } else {
        texts.to_vec()
    };
    if inputs.is_empty() {
        return Err(UsageError(
            "nothing to embed: give texts as arguments or lines on stdin".into(),
        ));
    }
    Ok(inputs)
}

/// Writes the vectors as they arrive: NDJSON lines with each input's index, or one JSON
/// document `{"model": …, "embeddings": [[…], …]}`.
pub struct Printer {
    model: String,
    ndjson: bool,
    written: usize,
}

impl Printer {
    pub fn new(model: &str, ndjson: bool) -> Self {
        Printer {
            model: model.to_string(),
            ndjson,
            written: 0,
        }
    }

    pub fn batch(
        &mut self,
        out: &mut impl Write,
        first: usize,
        vectors: &[Vec<f64>],
    ) -> io::Result<()> {
        for (i, v) in vectors.iter().enumerate() {
            let vector = serde_json::to_string(v).map_err(io::Error::other)?;
            if self.ndjson {
                writeln!(out, "{{\"index\":{},\"embedding\":{vector}}}", first + i)?;
            } else {
                if self.written == 0 {
                    write!(
                        out,
                        "{{\"model\":{},\"embeddings\":[",
                        json_str(&self.model)
                    )?;
                } else {
                    out.write_all(b",")?;
                }
                out.write_all(vector.as_bytes())?;
            }
            self.written += 1;
        }
        Ok(())
    }

    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.ndjson {
            if self.written == 0 {
                write!(
                    out,
                    "{{\"model\":{},\"embeddings\":[",
                    json_str(&self.model)
                )?;
            }
            writeln!(out, "]}}")?;
        }
        Ok(())
    }
}

/// A JSON string in which every character that could steer a terminal is a `\uXXXX` escape
/// (serde escapes only C0 controls): the same string to a JSON reader, inert on a screen.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in serde_json::Value::from(s).to_string().chars() {
        match c {
            '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// One turn-log record for the run: `call: "embed"`, the inputs as the question (one per line),
/// the server's token count and the time taken.
fn log(config: &Config, backend: &Backend, model: &str, inputs: &[String], outcome: &TurnOutcome) {
    let Some(path) = config.log_path.clone() else {
        return;
    };
    let mut log = TurnLog::new(path)
        .content(config.log_content)
        .rotation(config.log_rotation);
    let input = inputs.join("\n");
    let context = ContextLog {
        call: "embed",
        ..ContextLog::default()
    };
    let options = Options::default();
    let ctx = TurnContext {
        session_id: &Uuid::new_v4(),
        turn: 1,
        model,
        host: backend.base_url(),
        options: &options,
        user_input: &input,
        context: &context,
        images: &[],
    };
    let record = TurnRecord::new(&ctx, outcome).without_secrets(backend.secrets());
    if let Err(e) = log.append(&record) {
        crate::render::style::warn(format_args!("{e}; the embeddings were not logged"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_the_arguments_else_the_non_empty_lines_of_stdin() {
        let args = vec!["a".to_string(), "你好".to_string()];
        assert_eq!(inputs(&args, Some("ignored")).unwrap(), args);
        assert_eq!(
            inputs(&[], Some("one\r\n\n  \ntwo 二\n")).unwrap(),
            ["one", "two 二"]
        );
        assert!(inputs(&[], Some("\n \n")).is_err());
        assert!(inputs(&[], None).is_err());
    }

    #[test]
    fn json_and_ndjson_shapes_with_indices_across_batches() {
        let mut out = Vec::new();
        let mut p = Printer::new("m\u{1b}[2J\u{9b}\u{202e}", false);
        p.batch(&mut out, 0, &[vec![0.5, -1.0]]).unwrap();
        p.batch(&mut out, 1, &[vec![0.25, 2.0], vec![0.0, 1e-7]])
            .unwrap();
        p.finish(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.is_ascii(), "escaped as JSON: {text:?}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc["model"], "m\u{1b}[2J\u{9b}\u{202e}",
            "the same name to a reader"
        );
        assert_eq!(doc["embeddings"].as_array().unwrap().len(), 3);
        assert_eq!(doc["embeddings"][1], serde_json::json!([0.25, 2.0]));

        let mut out = Vec::new();
        let mut p = Printer::new("m", true);
        p.batch(&mut out, 0, &[vec![1.0]]).unwrap();
        p.batch(&mut out, 1, &[vec![2.0], vec![3.0]]).unwrap();
        p.finish(&mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[2],
            serde_json::json!({"index": 2, "embedding": [3.0]})
        );

        let mut out = Vec::new();
        Printer::new("m", false).finish(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"model\":\"m\",\"embeddings\":[]}\n"
        );
    }
}
