//! Serial-number rules (编码体系): the pure part of Threadline's coding scheme.
//!
//! A [`SerialRule`] is a template such as `PJC-{YYMMDD}-{LINE}-{SEQ:5}` plus how its sequence
//! resets, the time zone its dates are read in, and where its serials must be unique. This
//! crate parses rules once ([`template`], [`rule`]), computes and checks check characters
//! ([`check`]), makes serials in bulk and names the counter they draw from ([`generate`]),
//! reads a serial back into its parts ([`validate`]), and applies the EU FMD guessing test
//! ([`fmd`]).
//!
//! It does no I/O: the counters live in the store, which reserves values of a
//! [`SequenceScope`] in its own transaction and hands them to [`Pattern::generate`]; time and
//! randomness come in as parameters.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rand::{SeedableRng, rngs::StdRng};
//! use threadline_serial::{AllocationContext, SerialRule};
//!
//! let rule: SerialRule = serde_json::from_str(r#"{
//!     "code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
//!     "time_zone": "+08:00", "sequence_reset": "daily"
//! }"#)?;
//! let at = Utc.with_ymd_and_hms(2023, 12, 25, 1, 0, 0).unwrap();
//! let context = AllocationContext::new("TC-200", at).with_line("A01");
//! let pattern = rule.pattern(&context)?;
//! assert_eq!(pattern.scope().key(), "2023-12-25|product=TC-200|line=A01");
//! let batch = pattern.generate(1, 2, &mut StdRng::seed_from_u64(7))?;
//! assert_eq!(batch.to_vec(), ["PJC-231225-A01-00001", "PJC-231225-A01-00002"]);
//! let parts = rule.validate("PJC-231225-A01-00002")?;
//! assert_eq!((parts.line.as_deref(), parts.sequence), (Some("A01"), Some(2)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod alphabet;
pub mod check;
pub mod fmd;
pub mod generate;
pub mod rule;
pub mod template;
pub mod validate;

pub use alphabet::Alphabet;
pub use check::{CheckAlgorithm, CheckChars};
pub use fmd::{GuessingRisk, guessing_risk, require_fmd};
pub use generate::{AllocationContext, Pattern, Period, SequenceScope, SerialBatch};
pub use rule::{RuleSpec, SequenceReset, SerialRule, Uniqueness, UtcOffset};
pub use template::{ContextField, DatePart, Part, Template};
pub use validate::{ParsedSerial, SerialDate};
