//! The correlation policy: which steps count and how bad a chain is, as a Rhai script.
//!
//! The built-in policy is `correlate/policy.rhai`, compiled into the binary; it documents
//! what the two functions receive. A custom policy replaces it whole. The engine has the
//! same kind of limits as the detection engine; a policy call that fails falls back to
//! accepting the step or scoring the chain 1, is counted, and never stops correlation.

use std::path::Path;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{AST, Array, CallFnOptions, Dynamic, Engine, Map, Scope};

use crate::error::CorrelateError;

/// The built-in policy's source.
pub const BUILTIN_POLICY: &str = include_str!("../policy.rhai");

/// What the policy sees of one step.
#[derive(Debug, Clone)]
pub struct HopFacts<'a> {
    /// Origin host or address.
    pub from: &'a str,
    /// Reached host or address.
    pub to: &'a str,
    /// Inventory tier of `from`, or `unknown`.
    pub from_tier: &'static str,
    /// Inventory tier of `to`, or `unknown`.
    pub to_tier: &'static str,
    /// Highest signal severity, 0 (informational) to 4 (critical).
    pub max_severity: i64,
    /// Rule ids seen on the step.
    pub rules: Vec<String>,
    /// Techniques seen on the step.
    pub techniques: Vec<String>,
    /// Accounts seen on the step.
    pub users: Vec<String>,
    /// Evidence events.
    pub evidence: usize,
}

/// What the policy sees of one chain.
#[derive(Debug, Clone)]
pub struct ChainFacts {
    /// Accepted steps.
    pub hops: usize,
    /// Hosts on the path.
    pub hosts: usize,
    /// Highest signal severity, 0 to 4.
    pub max_severity: i64,
    /// Whether the chain reached an ePHI database or EHR application.
    pub reached_ephi: bool,
    /// Whether unusual EHR access by an involved user or host followed the first step.
    pub ehr_followup: bool,
    /// Distinct patients touched after the first step.
    pub patients: u64,
    /// Techniques seen.
    pub techniques: Vec<String>,
}

/// A compiled policy.
pub struct Policy {
    engine: Engine,
    ast: AST,
    name: String,
    failures: u64,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("name", &self.name).finish()
    }
}

impl Policy {
    /// The built-in policy.
    pub fn builtin() -> Policy {
        Policy::compile("built-in", BUILTIN_POLICY).expect("the built-in policy compiles")
    }

    /// A policy from a file.
    pub fn load(path: &Path) -> Result<Policy, CorrelateError> {
        let source = std::fs::read_to_string(path).map_err(|source| CorrelateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::compile(&path.display().to_string(), &source)
    }

    /// Compiles a policy and checks that it has both functions.
    pub fn compile(name: &str, source: &str) -> Result<Policy, CorrelateError> {
        let mut engine = Engine::new();
        engine.set_max_operations(100_000);
        engine.set_max_call_levels(32);
        engine.set_max_string_size(64 * 1024);
        engine.set_max_array_size(10_000);
        engine.set_max_map_size(10_000);
        engine.set_strict_variables(true);
        engine.set_module_resolver(DummyModuleResolver::new());
        engine.disable_symbol("eval");
        engine.on_print(|text| tracing::trace!(text, "policy printed"));
        engine.on_debug(|text, _, _| tracing::trace!(text, "policy debug output"));

        let error = |message: String| CorrelateError::Policy {
            name: name.to_owned(),
            message,
        };
        let ast = engine.compile(source).map_err(|e| {
            let line = e
                .position()
                .line()
                .map_or(String::new(), |l| format!("line {l}: "));
            error(format!("{line}{}", e.err_type()))
        })?;
        for (function, arity) in [("accept_hop", 1), ("score", 1)] {
            let found = ast
                .iter_functions()
                .any(|f| f.name == function && f.params.len() == arity);
            if !found {
                return Err(error(format!(
                    "no {function}(..) function with one parameter"
                )));
            }
        }
        Ok(Policy {
            engine,
            ast,
            name: name.to_owned(),
            failures: 0,
        })
    }

    /// Calls that failed and fell back to the default answer.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Whether the step counts. A failing call accepts it.
    pub fn accept_hop(&mut self, hop: &HopFacts<'_>) -> bool {
        let mut map = Map::new();
        map.insert("from".into(), hop.from.into());
        map.insert("to".into(), hop.to.into());
        map.insert("from_tier".into(), hop.from_tier.into());
        map.insert("to_tier".into(), hop.to_tier.into());
        map.insert("max_severity".into(), hop.max_severity.into());
        map.insert("rules".into(), strings(&hop.rules));
        map.insert("techniques".into(), strings(&hop.techniques));
        map.insert("users".into(), strings(&hop.users));
        map.insert("evidence".into(), (hop.evidence as i64).into());
        self.call("accept_hop", map)
            .and_then(|value| value.as_bool().map_err(|kind| format!("returned {kind}")))
            .unwrap_or_else(|error| self.failed("accept_hop", &error, true))
    }

    /// The chain's score; 0 or less rejects it. A failing call scores it 1.
    pub fn score(&mut self, chain: &ChainFacts) -> f64 {
        let mut map = Map::new();
        map.insert("hops".into(), (chain.hops as i64).into());
        map.insert("hosts".into(), (chain.hosts as i64).into());
        map.insert("max_severity".into(), chain.max_severity.into());
        map.insert("reached_ephi".into(), chain.reached_ephi.into());
        map.insert("ehr_followup".into(), chain.ehr_followup.into());
        map.insert("patients".into(), (chain.patients as i64).into());
        map.insert("techniques".into(), strings(&chain.techniques));
        self.call("score", map)
            .and_then(|value| {
                let float = value.as_float();
                float
                    .or_else(|_| value.as_int().map(|int| int as f64))
                    .map_err(|kind| format!("returned {kind}"))
            })
            .unwrap_or_else(|error| self.failed("score", &error, 1.0))
    }

    fn call(&self, function: &str, argument: Map) -> Result<Dynamic, String> {
        let options = CallFnOptions::new().eval_ast(false);
        let mut scope = Scope::new();
        let args = (Dynamic::from_map(argument),);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, &self.ast, function, args)
            .map_err(|error| {
                let line = error
                    .position()
                    .line()
                    .map_or(String::new(), |l| format!("line {l}: "));
                format!("{line}{}", kind_of(&error))
            })
    }

    fn failed<T>(&mut self, function: &str, error: &str, fallback: T) -> T {
        self.failures += 1;
        tracing::warn!(
            policy = %self.name,
            function,
            error,
            "policy call failed; using the default"
        );
        fallback
    }
}

fn strings(values: &[String]) -> Dynamic {
    let array: Array = values.iter().map(|value| value.as_str().into()).collect();
    Dynamic::from_array(array)
}

/// The kind of a script error, without the values involved.
fn kind_of(error: &rhai::EvalAltResult) -> &'static str {
    use rhai::EvalAltResult as E;
    match error {
        E::ErrorTooManyOperations(_) => "operation limit reached",
        E::ErrorFunctionNotFound(..) => "call to an unknown function",
        E::ErrorPropertyNotFound(..) | E::ErrorDotExpr(..) => "no such property",
        E::ErrorMismatchDataType(..) => "wrong value type",
        _ => "script error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(to_tier: &'static str, max_severity: i64) -> HopFacts<'static> {
        HopFacts {
            from: "ws-01",
            to: "dc-01",
            from_tier: "workstation",
            to_tier,
            max_severity,
            rules: vec!["remote-logon-network".into()],
            techniques: vec!["T1021".into()],
            users: vec!["alice".into()],
            evidence: 2,
        }
    }

    #[test]
    fn the_builtin_policy_ignores_routine_steps_into_domain_controllers() {
        let mut policy = Policy::builtin();
        assert!(!policy.accept_hop(&hop("domain_controller", 2)));
        assert!(policy.accept_hop(&hop("domain_controller", 3)));
        assert!(policy.accept_hop(&hop("workstation", 1)));
        assert_eq!(policy.failures(), 0);
    }

    #[test]
    fn the_builtin_score_grows_with_reach_and_patients() {
        let mut policy = Policy::builtin();
        let mut chain = ChainFacts {
            hops: 1,
            hosts: 2,
            max_severity: 2,
            reached_ephi: false,
            ehr_followup: false,
            patients: 0,
            techniques: vec![],
        };
        let base = policy.score(&chain);
        chain.reached_ephi = true;
        chain.patients = 600;
        assert!(policy.score(&chain) > base + 9.0);
    }

    #[test]
    fn a_broken_policy_is_refused_and_a_failing_one_falls_back() {
        let missing = Policy::compile("mine.rhai", "fn score(chain) { 1.0 }");
        assert!(missing.unwrap_err().to_string().contains("accept_hop"));

        let failing = "fn accept_hop(hop) { hop.nonexistent.len() > 0 }\nfn score(c) { 1 }";
        let mut policy = Policy::compile("mine.rhai", failing).expect("compiles");
        assert!(
            policy.accept_hop(&hop("workstation", 1)),
            "falls back to accepting"
        );
        assert_eq!(policy.failures(), 1);
        assert_eq!(
            policy.score(&ChainFacts {
                hops: 1,
                hosts: 2,
                max_severity: 1,
                reached_ephi: true,
                ehr_followup: false,
                patients: 0,
                techniques: vec![],
            }),
            1.0,
            "an integer score is accepted"
        );
    }
}
