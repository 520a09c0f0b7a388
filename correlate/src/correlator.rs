//! The correlator: what it holds, and how chains of steps become incidents.
//!
//! Feeding: every event goes to [`Correlator::observe`] (address bindings, EHR accesses
//! for counting affected patients) and every signal to [`Correlator::add_signal`].
//! Lateral signals are the steps; EHR signals can qualify a chain; host signals that a
//! step's target recorded around the step are more evidence of it.
//!
//! Building ([`Correlator::incidents`]):
//! 1. Each lateral signal becomes a step between two nodes: host names when the signal
//!    has them, else addresses resolved to the host they belonged to at the time, else
//!    the address itself. Steps between the same two nodes are one edge with all their
//!    evidence; the policy accepts or drops each edge.
//! 2. From each node that may start a chain (a workstation, or a host the inventory does
//!    not list), in order of its first outgoing step, the earliest time every other node
//!    can be reached is computed: a step from a reached node counts when it has evidence
//!    no earlier than the node's reach time minus the clock-skew tolerance, and no later
//!    than the window after the chain's first step.
//! 3. A chain is an incident when it reaches an ePHI database or EHR application, or when
//!    an EHR signal about one of its accounts or hosts follows its first step. Its path is
//!    the hosts leading to those targets, in reach order. Longer chains are kept first,
//!    and a chain that starts on a kept chain's path is dropped, so A -> B -> C ->
//!    database is one incident, not three, whatever order the steps arrived in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use ward_schemas::incident::incident_id;
use ward_schemas::{Class, Event, EventId, Hop, Incident, Severity, Signal, SignalKind};
use ward_schemas::{Timestamp, Triage};

use crate::inventory::{Inventory, Tier};
use crate::policy::{ChainFacts, HopFacts, Policy};
use crate::resolve::{Resolver, is_routable};

/// Correlation settings, validated.
#[derive(Debug, Clone)]
pub struct CorrelatorSettings {
    /// How far one source's clock may run ahead of another's: a step may appear up to
    /// this long before the step that led to it. Default 5 minutes.
    pub skew: Duration,
    /// Longest time from a chain's first step to its last step or EHR follow-up.
    /// Default 24 hours.
    pub window: Duration,
    /// Most lateral and EHR signals held; the oldest received go first. Default 100,000.
    pub max_signals: usize,
    /// Most EHR accesses held for counting affected patients. Default 1,000,000.
    pub max_ehr_accesses: usize,
    /// Most addresses with host bindings held. Default 100,000.
    pub max_addresses: usize,
}

impl Default for CorrelatorSettings {
    fn default() -> Self {
        CorrelatorSettings {
            skew: Duration::from_secs(5 * 60),
            window: Duration::from_secs(24 * 60 * 60),
            max_signals: 100_000,
            max_ehr_accesses: 1_000_000,
            max_addresses: 100_000,
        }
    }
}

/// How much the correlator holds and has dropped, for metrics and the end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CorrelatorStats {
    /// Lateral and EHR signals held.
    pub signals: usize,
    /// EHR accesses held.
    pub ehr_accesses: usize,
    /// Addresses with host bindings held.
    pub addresses: usize,
    /// Signals dropped to stay within bounds.
    pub evicted_signals: u64,
    /// EHR accesses dropped to stay within bounds.
    pub evicted_ehr_accesses: u64,
    /// Address bindings dropped to stay within bounds.
    pub evicted_bindings: u64,
    /// Lateral signals that named no usable source or destination.
    pub unplaced_signals: u64,
    /// Edges the policy dropped at the last build.
    pub rejected_edges: usize,
    /// Policy calls that failed and fell back to a default.
    pub policy_failures: u64,
}

/// One access to a patient's record, kept to count affected patients.
#[derive(Debug)]
struct Access {
    time: Timestamp,
    user: Option<String>,
    host: Option<String>,
    patient: String,
}

/// Every step between two nodes, with its evidence.
#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    /// Evidence sorted by time: `(time, event id, signal index)`.
    evidence: Vec<(Timestamp, EventId, usize)>,
}

/// Signals and events in, incidents out. See the module docs for the algorithm.
#[derive(Debug)]
pub struct Correlator {
    settings: CorrelatorSettings,
    inventory: Arc<Inventory>,
    policy: Policy,
    signals: VecDeque<Signal>,
    accesses: VecDeque<Access>,
    resolver: Resolver,
    stats: CorrelatorStats,
}

impl Correlator {
    /// An empty correlator.
    pub fn new(settings: CorrelatorSettings, inventory: Arc<Inventory>, policy: Policy) -> Self {
        Correlator {
            resolver: Resolver::new(settings.max_addresses),
            settings,
            inventory,
            policy,
            signals: VecDeque::new(),
            accesses: VecDeque::new(),
            stats: CorrelatorStats::default(),
        }
    }

    /// Learns from an event: which host an address belongs to, and who opened which
    /// patient's record from where.
    pub fn observe(&mut self, event: &Event) {
        self.resolver.observe(event);

        if event.class == Class::EhrActivity
            && let Some(patient) = &event.patient_id
        {
            if self.accesses.len() >= self.settings.max_ehr_accesses {
                self.accesses.pop_front();
                self.stats.evicted_ehr_accesses += 1;
            }
            self.accesses.push_back(Access {
                time: event.time,
                user: event.user.clone(),
                host: event.src_host.clone().or_else(|| event.host.clone()),
                patient: patient.clone(),
            });
        }
    }

    /// Takes a signal to hold: lateral signals are the steps, EHR signals can qualify a
    /// chain, host signals on a step's target around the step's time are its evidence.
    pub fn add_signal(&mut self, signal: Signal) {
        if self.signals.len() >= self.settings.max_signals {
            self.signals.pop_front();
            self.stats.evicted_signals += 1;
        }
        self.signals.push_back(signal);
    }

    /// What is held and what was dropped.
    pub fn stats(&self) -> CorrelatorStats {
        CorrelatorStats {
            signals: self.signals.len(),
            ehr_accesses: self.accesses.len(),
            addresses: self.resolver.len(),
            evicted_bindings: self.resolver.evicted,
            policy_failures: self.policy.failures(),
            ..self.stats.clone()
        }
    }

    /// The incidents in what is held, in order of their first step.
    pub fn incidents(&mut self) -> Vec<Incident> {
        let edges = self.edges();
        let mut outgoing: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, edge) in edges.iter().enumerate() {
            outgoing.entry(&edge.from).or_default().push(index);
        }

        // Chains may start at workstations and at hosts the inventory does not list,
        // earliest first.
        let mut roots: Vec<(Timestamp, &str)> = outgoing
            .iter()
            .filter(|(node, _)| matches!(self.inventory.tier(node), None | Some(Tier::Workstation)))
            .map(|(node, out)| {
                let first = out.iter().map(|&e| edges[e].evidence[0].0).min();
                (first.expect("edges have evidence"), *node)
            })
            .collect();
        roots.sort();

        let mut candidates = Vec::new();
        for (_, root) in roots {
            let reach = self.reach(root, &edges, &outgoing);
            candidates.extend(self.qualify(root, &reach, &edges));
        }

        // A chain that starts on another chain's path is part of it: the longest chains
        // are kept first, and a chain whose start they cover is dropped.
        candidates.sort_by(|a, b| {
            let longer = b.path.len().cmp(&a.path.len());
            longer.then(a.first_seen.cmp(&b.first_seen))
        });
        let mut covered: HashSet<String> = HashSet::new();
        let mut incidents = Vec::new();
        for incident in candidates {
            if covered.contains(&incident.path[0]) {
                continue;
            }
            covered.extend(incident.path.iter().cloned());
            incidents.push(incident);
        }
        incidents.sort_by_key(|incident| incident.first_seen);
        incidents
    }

    /// Lateral signals as accepted edges between nodes.
    fn edges(&mut self) -> Vec<Edge> {
        let mut by_pair: BTreeMap<(String, String), Edge> = BTreeMap::new();
        let mut unplaced = 0;
        for (index, signal) in self.signals.iter().enumerate() {
            if signal.kind != SignalKind::Lateral {
                continue;
            }
            let from = self.node(
                signal.src_host.as_deref(),
                signal.src_ip.as_deref(),
                signal.time,
            );
            let to = self.node(
                signal.dst_host.as_deref(),
                signal.dst_ip.as_deref(),
                signal.time,
            );
            let (Some(from), Some(to)) = (from, to) else {
                unplaced += 1;
                continue;
            };
            if from == to {
                continue;
            }
            let edge = by_pair.entry((from.clone(), to.clone())).or_insert(Edge {
                from,
                to,
                evidence: Vec::new(),
            });
            edge.evidence.push((signal.time, signal.event_id, index));
        }
        self.stats.unplaced_signals = unplaced;

        let mut accepted = Vec::new();
        let mut rejected = 0;
        for (_, mut edge) in by_pair {
            edge.evidence.sort();
            edge.evidence.dedup_by_key(|(time, id, _)| (*time, *id));
            let facts = self.hop_facts(&edge);
            if self.policy.accept_hop(&facts) {
                accepted.push(edge);
            } else {
                rejected += 1;
            }
        }
        self.stats.rejected_edges = rejected;
        accepted
    }

    fn hop_facts<'a>(&self, edge: &'a Edge) -> HopFacts<'a> {
        let signals = edge
            .evidence
            .iter()
            .map(|(_, _, index)| &self.signals[*index]);
        let mut rules = BTreeSet::new();
        let mut techniques = BTreeSet::new();
        let mut users = BTreeSet::new();
        let mut max_severity = Severity::Informational;
        for signal in signals {
            rules.insert(signal.rule_id.clone());
            techniques.insert(signal.technique.clone());
            users.extend(signal.user.clone());
            max_severity = max_severity.max(signal.severity);
        }
        HopFacts {
            from: &edge.from,
            to: &edge.to,
            from_tier: self.tier_name(&edge.from),
            to_tier: self.tier_name(&edge.to),
            max_severity: severity_rank(max_severity),
            rules: rules.into_iter().collect(),
            techniques: techniques.into_iter().collect(),
            users: users.into_iter().collect(),
            evidence: edge.evidence.len(),
        }
    }

    fn tier_name(&self, node: &str) -> &'static str {
        self.inventory.tier(node).map_or("unknown", Tier::as_str)
    }

    /// The node a signal end stands for: its host name, else the host its address
    /// belonged to at the time, else the address.
    fn node(&self, host: Option<&str>, ip: Option<&str>, time: Timestamp) -> Option<String> {
        if let Some(host) = host {
            return Some(host.to_owned());
        }
        let ip = ip.filter(|ip| is_routable(ip))?;
        let host = self
            .inventory
            .host_of_ip(ip)
            .or_else(|| self.resolver.host_at(ip, time));
        Some(host.unwrap_or(ip).to_owned())
    }

    /// Earliest reach time and the step that reached each node, from `root`.
    fn reach(
        &self,
        root: &str,
        edges: &[Edge],
        outgoing: &BTreeMap<&str, Vec<usize>>,
    ) -> HashMap<String, Reached> {
        let skew = micros(self.settings.skew);
        let window = micros(self.settings.window);
        let mut reached: HashMap<String, Reached> = HashMap::new();
        let from_root = outgoing.get(root).into_iter().flatten().map(|&e| &edges[e]);
        let from_root = from_root.filter(|edge| edge.to != root);
        let Some(start) = from_root.map(|edge| edge.evidence[0].0).min() else {
            return reached;
        };
        let mut queue = BinaryHeap::new();
        queue.push(Reverse((Timestamp::from_micros(i64::MIN), root.to_owned())));

        while let Some(Reverse((at, node))) = queue.pop() {
            let is_root = node == root;
            if !is_root && reached.get(&node).is_some_and(|r| r.at < at) {
                continue;
            }
            for &index in outgoing.get(node.as_str()).into_iter().flatten() {
                let edge = &edges[index];
                if edge.to == root {
                    continue;
                }
                let earliest = if is_root {
                    i64::MIN
                } else {
                    at.micros().saturating_sub(skew)
                };
                let evidence = edge
                    .evidence
                    .iter()
                    .find(|(time, _, _)| time.micros() >= earliest);
                let Some(&(time, _, _)) = evidence else {
                    continue;
                };
                if time.micros().saturating_sub(start.micros()) > window {
                    continue;
                }
                // A step taken within the skew before its predecessor happened no earlier
                // than the predecessor, as far as ordering goes.
                let time = time.max(at);
                let better = reached.get(&edge.to).is_none_or(|r| time < r.at);
                if better {
                    reached.insert(
                        edge.to.clone(),
                        Reached {
                            at: time,
                            edge: index,
                        },
                    );
                    queue.push(Reverse((time, edge.to.clone())));
                }
            }
        }
        reached
    }

    /// The incident a root's reach makes, if it reaches ePHI or is followed by unusual
    /// EHR access.
    fn qualify(
        &mut self,
        root: &str,
        reach: &HashMap<String, Reached>,
        edges: &[Edge],
    ) -> Option<Incident> {
        if reach.is_empty() {
            return None;
        }
        let skew = micros(self.settings.skew);
        let window = micros(self.settings.window);

        let targets: Vec<&String> = reach
            .keys()
            .filter(|node| self.inventory.tier(node).is_some_and(Tier::holds_ephi))
            .collect();

        // The steps on the way to the targets, or every step when there is none.
        let mut on_path: BTreeSet<usize> = BTreeSet::new();
        let ends: Vec<&String> = if targets.is_empty() {
            reach.keys().collect()
        } else {
            targets.clone()
        };
        for end in ends {
            let mut node = end.as_str();
            while let Some(step) = reach.get(node) {
                if !on_path.insert(step.edge) {
                    break;
                }
                node = &edges[step.edge].from;
            }
        }
        let mut steps: Vec<usize> = on_path.into_iter().collect();
        steps.sort_by_key(|&edge| (reach[&edges[edge].to].at, edge));

        // Each step's signals: its lateral ones, and what its target host saw around it.
        let step_signals: Vec<Vec<usize>> = steps
            .iter()
            .map(|&edge| self.step_signals(&edges[edge]))
            .collect();
        let hops: Vec<Hop> = steps
            .iter()
            .zip(&step_signals)
            .map(|(&edge, signals)| self.hop(&edges[edge], signals))
            .collect();
        let first_seen = hops.iter().map(|hop| hop.first_seen).min()?;
        let mut last_seen = hops.iter().map(|hop| hop.last_seen).max()?;
        let mut path = vec![root.to_owned()];
        path.extend(hops.iter().map(|hop| hop.to.clone()));
        let users: BTreeSet<String> = hops.iter().flat_map(|hop| hop.users.clone()).collect();
        let hosts: HashSet<&str> = path.iter().map(String::as_str).collect();

        // Unusual EHR access by an account or from a host of the chain, after its start.
        let after = |time: Timestamp| {
            let since = time.micros().saturating_sub(first_seen.micros());
            since >= -skew && since <= window
        };
        let involved = |user: Option<&String>, host: Option<&String>| {
            user.is_some_and(|user| users.contains(user))
                || host.is_some_and(|host| hosts.contains(host.as_str()))
        };
        let followups: Vec<&Signal> = self
            .signals
            .iter()
            .filter(|s| s.kind == SignalKind::Ehr && after(s.time))
            .filter(|s| involved(s.user.as_ref(), s.src_host.as_ref().or(s.host.as_ref())))
            .collect();
        if targets.is_empty() && followups.is_empty() {
            return None;
        }

        let patients: HashSet<&str> = self
            .accesses
            .iter()
            .filter(|access| after(access.time))
            .filter(|access| involved(access.user.as_ref(), access.host.as_ref()))
            .map(|access| access.patient.as_str())
            .collect();
        let patients_affected = patients.len() as u64;

        let signals = || {
            step_signals
                .iter()
                .flatten()
                .map(|&index| &self.signals[index])
        };
        let mut evidence: Vec<(Timestamp, EventId)> = signals()
            .map(|signal| (signal.time, signal.event_id))
            .collect();
        let mut techniques: BTreeSet<String> =
            hops.iter().flat_map(|hop| hop.techniques.clone()).collect();
        let mut rules: BTreeSet<String> = signals().map(|s| s.rule_id.clone()).collect();
        let mut severity = signals().map(|s| s.severity).max().unwrap_or(Severity::Low);
        for signal in &followups {
            evidence.push((signal.time, signal.event_id));
            techniques.insert(signal.technique.clone());
            rules.insert(signal.rule_id.clone());
            severity = severity.max(signal.severity);
            last_seen = last_seen.max(signal.time);
        }
        evidence.sort();
        evidence.dedup();

        let reached_ephi = !targets.is_empty();
        let facts = ChainFacts {
            hops: hops.len(),
            hosts: path.len(),
            max_severity: severity_rank(severity),
            reached_ephi,
            ehr_followup: !followups.is_empty(),
            patients: patients_affected,
            techniques: techniques.iter().cloned().collect(),
        };
        let score = self.policy.score(&facts);
        if score <= 0.0 {
            return None;
        }

        let mut target_names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
        target_names.sort();
        let reason = if reached_ephi {
            format!("reached ePHI host {}", target_names.join(", "))
        } else {
            "followed by unusual EHR access by an involved account or host".to_owned()
        };
        if reached_ephi {
            severity = Severity::Critical;
        }

        Some(Incident {
            incident_id: incident_id(root, hops[0].evidence[0]),
            first_seen,
            last_seen,
            path,
            hops,
            users: users.into_iter().collect(),
            techniques: techniques.into_iter().collect(),
            rules: rules.into_iter().collect(),
            severity,
            score,
            reason,
            evidence: evidence.into_iter().map(|(_, id)| id).collect(),
            patients_affected,
            triage: Triage::for_patients(patients_affected),
        })
    }

    /// The signals of a step, in time order: its lateral signals, and the host signals
    /// its target recorded from the skew before its first lateral signal to the skew
    /// after its last.
    fn step_signals(&self, edge: &Edge) -> Vec<usize> {
        let skew = micros(self.settings.skew);
        let first = edge.evidence[0].0.micros().saturating_sub(skew);
        let last = edge.evidence[edge.evidence.len() - 1]
            .0
            .micros()
            .saturating_add(skew);
        let around = self.signals.iter().enumerate().filter(|(_, signal)| {
            signal.kind == SignalKind::Host
                && signal.host.as_deref() == Some(edge.to.as_str())
                && (first..=last).contains(&signal.time.micros())
        });
        let mut indexes: Vec<usize> = edge.evidence.iter().map(|(_, _, index)| *index).collect();
        indexes.extend(around.map(|(index, _)| index));
        indexes.sort_by_key(|&index| (self.signals[index].time, self.signals[index].event_id));
        indexes.dedup_by_key(|index| self.signals[*index].event_id);
        indexes
    }

    fn hop(&self, edge: &Edge, indexes: &[usize]) -> Hop {
        let signals: Vec<&Signal> = indexes.iter().map(|&index| &self.signals[index]).collect();
        let users = signals
            .iter()
            .filter_map(|s| s.user.clone())
            .filter(|u| is_person(u));
        let users: BTreeSet<String> = users.collect();
        let techniques: BTreeSet<String> = signals.iter().map(|s| s.technique.clone()).collect();
        Hop {
            from: edge.from.clone(),
            to: edge.to.clone(),
            first_seen: signals
                .iter()
                .map(|s| s.time)
                .min()
                .unwrap_or(edge.evidence[0].0),
            last_seen: signals
                .iter()
                .map(|s| s.time)
                .max()
                .unwrap_or(edge.evidence[0].0),
            users: users.into_iter().collect(),
            techniques: techniques.into_iter().collect(),
            evidence: signals.iter().map(|s| s.event_id).collect(),
        }
    }
}

/// Whether an account is a person's rather than a machine's or the system's own: only
/// people are an incident's users.
fn is_person(user: &str) -> bool {
    const SERVICE_ACCOUNTS: [&str; 5] = [
        "system",
        "local service",
        "network service",
        "anonymous logon",
        "-",
    ];
    !user.ends_with('$') && !SERVICE_ACCOUNTS.contains(&user)
}

/// When a node was first reached, and by which edge.
#[derive(Debug, Clone, Copy)]
struct Reached {
    at: Timestamp,
    edge: usize,
}

fn severity_rank(severity: Severity) -> i64 {
    match severity {
        Severity::Informational => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
