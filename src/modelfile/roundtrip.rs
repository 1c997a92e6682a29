//! The property that ties the printer to the parser: any Modelfile that can be printed parses back
//! to itself. Deterministic: a fixed seed and no failure files.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestRunner};

use super::{parse, MessageRole, Modelfile, ModelfileMessage};
use crate::options::{Kind, Options, KNOWN};

/// Characters that stress the quoting rules (a form feed and a no-break space are blanks too),
/// plus Chinese and an emoji.
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', '0', '7', ' ', ' ', '\t', '\n', '"', '"', '#', '\\', '{', '}', '.', ':', '<',
    '>', '你', '好', '老', '師', '😀', '=', '\u{c}', '\u{a0}',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

fn non_empty(max: usize) -> impl Strategy<Value = String> {
    text(max).prop_filter("non-empty", |s| !s.is_empty())
}

fn parameters() -> impl Strategy<Value = Options> {
    let one = (
        0..KNOWN.len(),
        any::<i32>(),
        -1.0e6f64..1.0e6,
        any::<bool>(),
        non_empty(8),
    )
        .prop_map(|(i, int, float, flag, word)| {
            let (key, kind) = KNOWN[i];
            let value = match kind {
                Kind::Int => int.to_string(),
                Kind::Float => float.to_string(),
                Kind::Bool => flag.to_string(),
                Kind::StringList => word,
            };
            (key, value)
        });
    prop::collection::vec(one, 0..6).prop_map(|pairs| {
        let mut o = Options::default();
        for (k, v) in pairs {
            // Values the Options type itself refuses (a blank stop word) are not Modelfiles.
            let _ = o.set(k, &v);
        }
        o
    })
}

fn message() -> impl Strategy<Value = ModelfileMessage> {
    (0..3usize, text(20)).prop_map(|(r, content)| ModelfileMessage {
        role: [
            MessageRole::System,
            MessageRole::User,
            MessageRole::Assistant,
        ][r],
        content,
    })
}

fn modelfile() -> impl Strategy<Value = Modelfile> {
    (
        non_empty(16),
        parameters(),
        prop::option::of(text(40)),
        prop::option::of(text(40)),
        prop::collection::vec(non_empty(12), 0..2),
        prop::collection::vec(text(20), 0..3),
        prop::collection::vec(message(), 0..3),
        prop::option::of((0u8..20, 0u8..40, 0u8..9)),
    )
        .prop_map(
            |(from, parameters, template, system, adapters, licenses, messages, requires)| {
                Modelfile {
                    from,
                    parameters,
                    template,
                    system,
                    adapters,
                    licenses,
                    messages,
                    requires: requires.map(|(a, b, c)| format!("{a}.{b}.{c}")),
                }
            },
        )
}

#[test]
fn printing_then_parsing_gives_the_same_modelfile() {
    let config = Config {
        cases: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0115_a3a0),
        // Unprintable ones (a value needing both kinds of quote) are skipped, and are rare.
        max_global_rejects: 1000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let printed = std::cell::Cell::new(0u32);
    runner
        .run(&modelfile(), |m| {
            let Ok(text) = m.to_text() else {
                return Err(TestCaseError::reject("unprintable"));
            };
            printed.set(printed.get() + 1);
            let back = parse(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n--- text ---\n{text}")))?;
            prop_assert_eq!(back, m, "text was:\n{}", text);
            Ok(())
        })
        .unwrap();
    assert_eq!(printed.get(), 2000);
}
