//! The automatic response policy from `[response] policy`: which actions run for which alert
//! category at which minimum severity, and for how long; plus the alert score compared with
//! `response_threshold`.
//!
//! Pure; parsed once at start-up, consulted by the response worker for each incident update.

use super::fw::ActionKind;
use crate::engine::alert::{Alert, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyAction {
    Block,
    RateLimit,
    Quarantine,
    /// Destroy this host's TCP connections to and from the source (`ss -K`). Sorted after
    /// the firewall actions, so with `block,reset` the block is in place before the reset
    /// and the attacker cannot simply reconnect.
    Reset,
    Notify,
}

impl PolicyAction {
    /// The firewall action this asks for; None for `reset` and `notify`.
    pub fn firewall_kind(self) -> Option<ActionKind> {
        match self {
            PolicyAction::Block => Some(ActionKind::Block),
            PolicyAction::RateLimit => Some(ActionKind::RateLimit),
            PolicyAction::Quarantine => Some(ActionKind::Quarantine),
            PolicyAction::Reset | PolicyAction::Notify => None,
        }
    }

    fn parse(s: &str) -> Option<PolicyAction> {
        match s.trim() {
            "block" => Some(PolicyAction::Block),
            "rate_limit" | "ratelimit" => Some(PolicyAction::RateLimit),
            "quarantine" => Some(PolicyAction::Quarantine),
            "reset" => Some(PolicyAction::Reset),
            "notify" => Some(PolicyAction::Notify),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// None = any category.
    pub category: Option<String>,
    pub min_severity: Severity,
    pub actions: Vec<PolicyAction>,
    /// None = the configured default duration (escalated for repeat offenders).
    pub secs: Option<u64>,
}

/// Parses `CATEGORY:MIN_SEVERITY:ACTIONS[:SECONDS]` entries; errors quote the entry and its index.
pub fn parse(entries: &[String]) -> Result<Vec<PolicyRule>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| parse_one(e).map_err(|why| format!("[response] policy[{i}] = {e:?}: {why}")))
        .collect()
}

fn parse_one(e: &str) -> Result<PolicyRule, String> {
    let parts: Vec<&str> = e.split(':').collect();
    if !(3..=4).contains(&parts.len()) {
        return Err("expected CATEGORY:MIN_SEVERITY:ACTIONS[:SECONDS]".into());
    }
    let category = match parts[0].trim() {
        "" => return Err("empty category (use * for any)".into()),
        "*" => None,
        c => Some(c.to_string()),
    };
    let min_severity: Severity = parts[1].trim().parse()?;
    let actions = parts[2]
        .split(',')
        .map(|a| {
            PolicyAction::parse(a).ok_or_else(|| {
                format!(
                    "unknown action {a:?} (expected block, rate_limit, quarantine, reset, notify)"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let secs = match parts.get(3) {
        Some(s) => Some(
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("seconds {s:?} is not a whole number"))
                .and_then(|n| {
                    // A 0 s block would be a firewall element that never expires.
                    (n > 0).then_some(n).ok_or_else(|| {
                        "seconds \"0\": a block lasts at least 1 s (and at most max_block_secs)"
                            .to_string()
                    })
                })?,
        ),
        None => None,
    };
    Ok(PolicyRule {
        category,
        min_severity,
        actions,
        secs,
    })
}

/// Actions for an alert of `category` at `severity`: the union over matching rules, with
/// the longest explicit duration among them.
pub fn decide(
    rules: &[PolicyRule],
    category: &str,
    severity: Severity,
) -> (Vec<PolicyAction>, Option<u64>) {
    let mut actions = Vec::new();
    let mut secs: Option<u64> = None;
    for r in rules.iter().filter(|r| {
        severity >= r.min_severity && r.category.as_deref().is_none_or(|c| c == category)
    }) {
        actions.extend(r.actions.iter().copied());
        if let Some(s) = r.secs {
            secs = Some(secs.map_or(s, |x| x.max(s)));
        }
    }
    actions.sort();
    actions.dedup();
    (actions, secs)
}

/// The alert's confidence for `response_threshold`: `evidence.confidence` when a detector
/// gives one, else by severity (Low 0.25, Medium 0.5, High 0.8, Critical 1.0).
pub fn score(alert: &Alert) -> f64 {
    alert
        .evidence
        .get("confidence")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(match alert.severity {
            Severity::Low => 0.25,
            Severity::Medium => 0.5,
            Severity::High => 0.8,
            Severity::Critical => 1.0,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decides() {
        let rules = parse(&[
            "*:High:block".into(),
            "port_scan:Medium:rate_limit,notify:600".into(),
            "*:Critical:quarantine:60".into(),
        ])
        .unwrap();
        assert_eq!(
            decide(&rules, "port_scan", Severity::Medium),
            (
                vec![PolicyAction::RateLimit, PolicyAction::Notify],
                Some(600)
            )
        );
        assert_eq!(
            decide(&rules, "brute_force", Severity::High),
            (vec![PolicyAction::Block], None)
        );
        assert_eq!(decide(&rules, "brute_force", Severity::Medium).0, vec![]);
        let (a, s) = decide(&rules, "port_scan", Severity::Critical);
        assert_eq!(a.len(), 4);
        assert_eq!(s, Some(600));
    }

    #[test]
    fn errors_quote_the_entry() {
        let e = parse(&["*:High:block".into(), "x:Severe:block".into()]).unwrap_err();
        assert!(
            e.starts_with("[response] policy[1] = \"x:Severe:block\""),
            "{e}"
        );
        let e = parse(&["x:High:explode".into()]).unwrap_err();
        assert!(e.contains("\"explode\"") && e.contains("reset"), "{e}");
    }

    #[test]
    fn reset_parses_and_runs_after_the_block() {
        let rules = parse(&["brute_force:High:reset,block".into()]).unwrap();
        assert_eq!(
            rules[0].actions,
            vec![PolicyAction::Reset, PolicyAction::Block]
        );
        // decide() orders the actions: the block goes first, then the reset.
        assert_eq!(
            decide(&rules, "brute_force", Severity::Critical),
            (vec![PolicyAction::Block, PolicyAction::Reset], None)
        );
        assert_eq!(decide(&rules, "brute_force", Severity::Medium).0, vec![]);
        let e = parse(&["*:High:block,rst".into()]).unwrap_err();
        assert!(e.contains("policy[0]") && e.contains("\"rst\""), "{e}");
    }
}
