//! The EU Falsified Medicines Directive test for randomised serials.
//!
//! Commission Delegated Regulation (EU) 2016/161, article 4(b), asks that the probability of
//! guessing a valid serial number be negligible and in any case below 1 in 10,000. With `n`
//! serials of a product issued from a random space of `K` values, a guess of the random part
//! (everything else in the serial being assumed known — the sequence, the date, the codes) hits
//! a valid serial with probability `n / K`. So `n` must stay below `K / 10,000`.
//!
//! `n` is every serial of the product issued under the rule, not only the current request: the
//! store passes the product's running total plus the request.

use threadline_domain::FieldError;

use crate::rule::SerialRule;

/// A guess may succeed less than once in this many tries.
pub const FMD_ODDS: u128 = 10_000;

/// How guessable the serials of a rule are when `issued` of them exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuessingRisk {
    /// How many serials are (or will be) issued.
    pub issued: u64,
    /// How many values the random parts can take together: 1 without a random part, `None`
    /// if more than `u128::MAX`.
    pub random_combinations: Option<u128>,
    /// The entropy of the random parts, in bits.
    pub random_bits: f64,
    /// The chance that one guess of the random parts is a valid serial, at most 1.
    pub probability: f64,
    /// The most serials the rule can issue and stay below 1 in [`FMD_ODDS`].
    pub max_issuable: u128,
}

impl GuessingRisk {
    /// Whether the probability is below 1 in [`FMD_ODDS`].
    pub fn meets_fmd(&self) -> bool {
        u128::from(self.issued) <= self.max_issuable
    }
}

/// The guessing probability of `rule` with `issued` serials out.
pub fn guessing_risk(rule: &SerialRule, issued: u64) -> GuessingRisk {
    let template = rule.template();
    let combinations = template.random_combinations();
    let random_bits = template.random_bits();
    let probability = match combinations {
        Some(k) => issued as f64 / k as f64,
        None => issued as f64 / random_bits.exp2(),
    };
    GuessingRisk {
        issued,
        random_combinations: combinations,
        random_bits,
        probability: probability.min(1.0),
        // n · 10,000 < K  ⇔  n ≤ (K − 1) / 10,000.
        max_issuable: combinations.map_or(u128::MAX, |k| (k - 1) / FMD_ODDS),
    }
}

/// [`guessing_risk`], refusing a rule and quantity whose probability is 1 in [`FMD_ODDS`] or
/// more, with the most the rule can issue.
pub fn require_fmd(rule: &SerialRule, issued: u64) -> Result<GuessingRisk, FieldError> {
    let risk = guessing_risk(rule, issued);
    if risk.meets_fmd() {
        return Ok(risk);
    }
    let why = if rule.template().has_random() {
        format!(
            "its random part has {} values, so with {issued} serials a guess succeeds with \
             probability {:.3e}",
            risk.random_combinations.unwrap_or(u128::MAX),
            risk.probability
        )
    } else {
        "it has no random part, so its serials can be guessed".to_owned()
    };
    Err(FieldError::new(
        "fmd_guessable",
        format!(
            "rule `{}` does not meet the EU FMD limit of 1 in {FMD_ODDS} for guessing a serial: \
             {why}; it can issue at most {} serials — lengthen its {{RAND}} or use a larger \
             alphabet",
            rule.code(),
            risk.max_issuable
        ),
    )
    .at("quantity"))
}
