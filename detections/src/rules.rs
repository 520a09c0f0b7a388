//! A folder of rules, compiled once and run on every event routed to them.
//!
//! Loading reads every `*.rhai` file of the folder (not its subfolders), compiles it,
//! calls its `rule()` function for the metadata and checks that `detect` takes one or two
//! parameters. A file that fails any of these steps becomes a [`RuleProblem`] and is left
//! out; the others load. Top-level statements of a rule are never run: everything a rule
//! does happens in its functions.
//!
//! Routing: an event reaches a rule only if its class is one of the rule's `classes` and,
//! when the rule lists `codes`, its `event_code` is one of them. Rhai calls cost about a
//! microsecond each, so most events never enter a script at all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope};
use serde::Serialize;
use ward_schemas::signal::signal_id;
use ward_schemas::{Class, Event, Severity, Signal, SignalKind};

use crate::engine::{self, EventView};
use crate::error::{DetectionError, RuleProblem};
use crate::memory::Memory;
use crate::meta::RuleMeta;

/// Looks up the inventory tier (`workstation`, `ephi_db`, ...) of a host name or IP
/// address; `None` for assets the inventory does not list.
pub type TierLookup = Arc<dyn Fn(&str) -> Option<&'static str> + Send + Sync>;

/// How rules are run.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// Rhai operations one call may take before it is stopped. Default 50,000: a rule of
    /// a few dozen comparisons takes a few hundred.
    pub max_operations: u64,
    /// Failed calls in a row after which a rule is disabled until its file changes.
    /// Default 5.
    pub max_failures: u32,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            max_operations: 50_000,
            max_failures: 5,
        }
    }
}

/// What one rule has done since it was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleStats {
    /// Events the rule was called on.
    pub evaluated: u64,
    /// Signals it raised.
    pub fired: u64,
    /// Calls that failed (script error, limit reached, unusable result).
    pub failures: u64,
    /// Whether it was disabled after repeated failures.
    pub disabled: bool,
}

struct LoadedRule {
    meta: RuleMeta,
    path: PathBuf,
    ast: AST,
    /// Whether `detect` takes the memory as its second parameter.
    wants_memory: bool,
    memory: Memory,
    stats: RuleStats,
    failures_in_a_row: u32,
}

/// The rules of one folder, ready to run.
pub struct RuleSet {
    engine: Engine,
    settings: RuleSettings,
    dir: Option<PathBuf>,
    rules: Vec<LoadedRule>,
    /// Rule indexes per class.
    routes: HashMap<Class, Vec<usize>>,
    problems: Vec<RuleProblem>,
    /// File names, sizes and modification times at load, to notice edits.
    fingerprint: Vec<(PathBuf, u64, Option<SystemTime>)>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("dir", &self.dir)
            .field("rules", &self.rules.len())
            .field("problems", &self.problems)
            .finish()
    }
}

impl RuleSet {
    /// Loads every rule in `dir`. Rules that fail to load are in [`RuleSet::problems`];
    /// only an unreadable folder is an error.
    pub fn load(
        dir: &Path,
        settings: RuleSettings,
        tiers: TierLookup,
    ) -> Result<RuleSet, DetectionError> {
        let mut set = RuleSet {
            engine: engine::build(&settings, tiers),
            settings,
            dir: Some(dir.to_owned()),
            rules: Vec::new(),
            routes: HashMap::new(),
            problems: Vec::new(),
            fingerprint: Vec::new(),
        };
        set.reload_from_disk()?;
        Ok(set)
    }

    /// A rule set of in-memory sources, named as if they were files; for tests and for
    /// rules that come from somewhere other than a folder.
    pub fn from_sources(
        sources: &[(&str, &str)],
        settings: RuleSettings,
        tiers: TierLookup,
    ) -> RuleSet {
        let mut set = RuleSet {
            engine: engine::build(&settings, tiers),
            settings,
            dir: None,
            rules: Vec::new(),
            routes: HashMap::new(),
            problems: Vec::new(),
            fingerprint: Vec::new(),
        };
        for (name, source) in sources {
            set.add(Path::new(name), source);
        }
        set.route();
        set
    }

    /// The loaded rules' metadata, in file name order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|rule| &rule.meta)
    }

    /// The rule files that failed to load, with file and line.
    pub fn problems(&self) -> &[RuleProblem] {
        &self.problems
    }

    /// What each rule has done, by rule id.
    pub fn stats(&self) -> impl Iterator<Item = (&str, &RuleStats)> {
        self.rules
            .iter()
            .map(|rule| (rule.meta.id.as_str(), &rule.stats))
    }

    /// Keys the rules remember and keys dropped to stay within bounds, over all rules.
    pub fn memory_size(&self) -> (usize, u64) {
        let keys = self.rules.iter().map(|rule| rule.memory.keys()).sum();
        let evicted = self.rules.iter().map(|rule| rule.memory.evictions()).sum();
        (keys, evicted)
    }

    /// Forgets what every rule remembers; fixture cases start from nothing.
    pub fn reset_memory(&mut self) {
        for rule in &mut self.rules {
            rule.memory = Memory::default();
        }
    }

    /// Reloads the folder if a rule file was added, removed or changed since the last
    /// load; returns whether it did. Counters and memories start over on reload.
    pub fn reload_if_changed(&mut self) -> Result<bool, DetectionError> {
        let Some(dir) = &self.dir else {
            return Ok(false);
        };
        if fingerprint(dir)? == self.fingerprint {
            return Ok(false);
        }
        self.reload_from_disk()?;
        Ok(true)
    }

    fn reload_from_disk(&mut self) -> Result<(), DetectionError> {
        let dir = self.dir.clone().expect("only folder-backed sets reload");
        let fingerprint = fingerprint(&dir)?;
        self.rules.clear();
        self.problems.clear();
        for (path, _, _) in &fingerprint {
            match std::fs::read_to_string(path) {
                Ok(source) => self.add(path, &source),
                Err(error) => self.problems.push(RuleProblem {
                    path: path.clone(),
                    line: None,
                    message: format!("cannot read the file: {error}"),
                }),
            }
        }
        self.fingerprint = fingerprint;
        self.route();
        for problem in &self.problems {
            tracing::warn!(
                path = %problem.path.display(),
                line = problem.line,
                error = %problem.message,
                "rule skipped",
            );
        }
        tracing::info!(
            dir = %dir.display(),
            rules = self.rules.len(),
            skipped = self.problems.len(),
            "rules loaded",
        );
        Ok(())
    }

    /// Compiles one rule and adds it, or records why it cannot be added.
    fn add(&mut self, path: &Path, source: &str) {
        match self.compile(path, source) {
            Ok(rule) => self.rules.push(rule),
            Err((line, message)) => self.problems.push(RuleProblem {
                path: path.to_owned(),
                line,
                message,
            }),
        }
    }

    fn compile(&self, path: &Path, source: &str) -> Result<LoadedRule, (Option<usize>, String)> {
        let ast = self
            .engine
            .compile(source)
            .map_err(|error| (error.position().line(), error.err_type().to_string()))?;

        let detect = ast.iter_functions().find(|f| f.name == "detect");
        let arity = detect.map(|f| f.params.len());
        let wants_memory = match arity {
            Some(1) => false,
            Some(2) => true,
            Some(n) => return Err((None, format!("detect takes {n} parameters, not 1 or 2"))),
            None => return Err((None, "no detect(e) function".into())),
        };

        let options = CallFnOptions::new().eval_ast(false);
        let meta: Map = self
            .engine
            .call_fn_with_options(options, &mut Scope::new(), &ast, "rule", ())
            .map_err(|error| (error.position().line(), describe(&error)))?;
        let meta = RuleMeta::from_map(&meta).map_err(|message| (None, message))?;

        let stem = path.file_stem().and_then(|stem| stem.to_str());
        if self.dir.is_some() && stem != Some(meta.id.as_str()) {
            let message = format!("rule id {:?} differs from its file name", meta.id);
            return Err((None, message));
        }
        if self.rules.iter().any(|rule| rule.meta.id == meta.id) {
            return Err((None, format!("rule id {:?} is already taken", meta.id)));
        }

        Ok(LoadedRule {
            meta,
            path: path.to_owned(),
            ast,
            wants_memory,
            memory: Memory::default(),
            stats: RuleStats::default(),
            failures_in_a_row: 0,
        })
    }

    fn route(&mut self) {
        self.routes.clear();
        for (index, rule) in self.rules.iter().enumerate() {
            for class in &rule.meta.classes {
                self.routes.entry(*class).or_default().push(index);
            }
        }
    }

    /// Runs the event through every rule that wants it and returns their signals.
    pub fn detect(&mut self, event: &Arc<Event>) -> Vec<Signal> {
        let mut signals = Vec::new();
        let Some(routes) = self.routes.get(&event.class) else {
            return signals;
        };

        for &index in routes {
            let rule = &mut self.rules[index];
            if rule.stats.disabled || !wants_code(&rule.meta, event) {
                continue;
            }
            rule.stats.evaluated += 1;

            let view = Dynamic::from(EventView(Arc::clone(event)));
            let options = CallFnOptions::new().eval_ast(false);
            let mut scope = Scope::new();
            let result = if rule.wants_memory {
                rule.memory.set_now(event.time.micros());
                let memory = Dynamic::from(rule.memory.clone());
                let args = (view, memory);
                let ast = &rule.ast;
                self.engine
                    .call_fn_with_options::<Dynamic>(options, &mut scope, ast, "detect", args)
            } else {
                let ast = &rule.ast;
                self.engine.call_fn_with_options::<Dynamic>(
                    options,
                    &mut scope,
                    ast,
                    "detect",
                    (view,),
                )
            };

            let outcome = result
                .map_err(|error| (error.position().line(), describe(&error)))
                .and_then(|value| to_signal(&rule.meta, event, value).map_err(|e| (None, e)));
            match outcome {
                Ok(signal) => {
                    rule.failures_in_a_row = 0;
                    if let Some(signal) = signal {
                        rule.stats.fired += 1;
                        signals.push(signal);
                    }
                }
                Err((line, error)) => {
                    rule.stats.failures += 1;
                    rule.failures_in_a_row += 1;
                    tracing::debug!(rule_id = %rule.meta.id, line, error, "rule failed");
                    if rule.failures_in_a_row >= self.settings.max_failures {
                        rule.stats.disabled = true;
                        tracing::error!(
                            rule_id = %rule.meta.id,
                            path = %rule.path.display(),
                            line,
                            error,
                            failures = rule.failures_in_a_row,
                            "rule disabled after repeated failures; fix it to detect again",
                        );
                    }
                }
            }
        }
        signals
    }
}

fn wants_code(meta: &RuleMeta, event: &Event) -> bool {
    match (&meta.codes, &event.event_code) {
        (None, _) => true,
        (Some(codes), Some(code)) => codes.iter().any(|wanted| wanted == code),
        (Some(_), None) => false,
    }
}

/// The `*.rhai` files of `dir` with size and modification time, sorted by name.
fn fingerprint(dir: &Path) -> Result<Vec<(PathBuf, u64, Option<SystemTime>)>, DetectionError> {
    let read_error = |source| DetectionError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "rhai") {
            let metadata = entry.metadata().map_err(read_error)?;
            files.push((path, metadata.len(), metadata.modified().ok()));
        }
    }
    files.sort();
    Ok(files)
}

/// A rule error in words that never quote event values: the kind of failure, and for a
/// missing function or property, its name and argument types.
fn describe(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => "operation limit reached".into(),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("size limit reached: {what}"),
        EvalAltResult::ErrorStackOverflow(_) => "call depth limit reached".into(),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("no function {signature}")
        }
        EvalAltResult::ErrorDotExpr(..) => "no such property".into(),
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
            format!("in {name}: {}", describe(inner))
        }
        EvalAltResult::ErrorMismatchDataType(wanted, got, _) => {
            format!("expected {wanted}, found {got}")
        }
        EvalAltResult::ErrorArithmetic(..) => "arithmetic error".into(),
        EvalAltResult::ErrorRuntime(..) => "the rule threw an error".into(),
        EvalAltResult::ErrorVariableNotFound(name, _) => format!("no variable {name}"),
        _ => "script error".into(),
    }
}

/// The signal a `detect` result stands for: `()` or `false` for none, `true` for one with
/// the default endpoints, a map for one with the map's fields.
fn to_signal(meta: &RuleMeta, event: &Event, value: Dynamic) -> Result<Option<Signal>, String> {
    let overrides = if value.is_unit() {
        return Ok(None);
    } else if let Ok(fired) = value.as_bool() {
        if !fired {
            return Ok(None);
        }
        Map::new()
    } else if value.is_map() {
        value.cast::<Map>()
    } else {
        let kind = value.type_name();
        return Err(format!(
            "detect returned {kind}; expected (), a bool or a map"
        ));
    };

    let mut signal = Signal {
        signal_id: signal_id(&meta.id, event.event_id),
        time: event.time,
        rule_id: meta.id.clone(),
        title: meta.title.clone(),
        severity: meta.severity,
        technique: meta.technique.clone(),
        kind: meta.kind,
        event_id: event.event_id,
        event_class: event.class,
        host: event.host.clone(),
        src_host: event.src_host.clone(),
        src_ip: event.src_ip.clone(),
        dst_host: event.dst_host.clone(),
        dst_ip: event.dst_ip.clone(),
        user: event.user.clone(),
        patient_id: event.patient_id.clone(),
        summary: None,
    };
    if signal.dst_host.is_none() && signal.dst_ip.is_none() {
        signal.dst_host = event.host.clone();
    } else if signal.src_host.is_none() && signal.src_ip.is_none() {
        signal.src_host = event.host.clone();
    }
    if meta.kind != SignalKind::Ehr {
        signal.patient_id = None;
    }

    for (key, value) in overrides {
        let text = || -> Result<Option<String>, String> {
            if value.is_unit() {
                return Ok(None);
            }
            let text = value.clone().into_string();
            text.map(Some)
                .map_err(|kind| format!("{key} must be a string, not {kind}"))
        };
        match key.as_str() {
            "src_host" => signal.src_host = text()?,
            "src_ip" => signal.src_ip = text()?,
            "dst_host" => signal.dst_host = text()?,
            "dst_ip" => signal.dst_ip = text()?,
            "user" => signal.user = text()?,
            "summary" => signal.summary = text()?,
            "severity" => {
                let name = text()?.unwrap_or_default();
                signal.severity = Severity::from_name(&name)
                    .ok_or_else(|| format!("severity {name:?} is not a severity"))?;
            }
            other => return Err(format!("detect returned unknown key {other:?}")),
        }
    }
    Ok(Some(signal))
}

#[cfg(test)]
mod tests;
