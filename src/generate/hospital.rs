//! The generated hospital: hosts, clinicians and patients, and its asset inventory.
//!
//! Addressing, by tier:
//! - servers in `10.10.0.0/16`: domain controllers `10.10.0.x`, application servers
//!   `10.10.1.x`, the EHR database `10.10.2.x`, the EHR application `10.10.3.x`, the
//!   network sensor `10.10.9.x`;
//! - workstations in `10.20.0.0/16`, one `/24` per clinical unit (`10.20.1.0/24` is the
//!   ICU), so an analyst can tell a unit from an address as in a real hospital network.
//!
//! Workstation `i` (from 0) belongs to unit `i mod 8` and is named after it and its number,
//! `ws-icu-017`. Clinician `j` works at workstation `j mod workstations`, in that
//! workstation's unit; several clinicians share a workstation, as shifts do. Each clinician
//! looks after a small panel of the patients admitted to their unit.

use std::collections::BTreeSet;

use fastrand::Rng;
use serde::Serialize;
use ward_correlate::{Asset, Tier};

use super::records::EhrLog;

/// DNS domain of the hospital's Active Directory.
pub(super) const DNS_DOMAIN: &str = "nvh.local";
/// NetBIOS name of the domain, as Windows writes it beside account names.
pub(super) const NETBIOS_DOMAIN: &str = "NVH";
/// The EHR application server every workstation talks to.
pub(super) const EHR_APP: &str = "ehr-app-01";
/// The database behind the EHR.
pub(super) const DATABASE: &str = "db-ehr-01";
/// The network sensor, which names itself in every Zeek record.
pub(super) const SENSOR: &str = "zeek-core-01";

/// One host of the hospital.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Host {
    /// Short, lowercase name: `ws-icu-017`.
    pub name: String,
    /// Its one address.
    pub ip: String,
    /// Its role.
    pub tier: Tier,
    /// Whether it runs the EDR agent (Windows event forwarding and Sysmon).
    pub agent: bool,
}

impl Host {
    /// The name Windows logs as the computer: `WS-ICU-017.nvh.local`.
    pub fn computer(&self) -> String {
        format!("{}.{DNS_DOMAIN}", self.name.to_uppercase())
    }

    /// The NetBIOS name Windows logs as a workstation name: `WS-ICU-017`.
    pub fn netbios(&self) -> String {
        self.name.to_uppercase()
    }
}

/// A clinical unit: its code in host names, its department name in the access log, and
/// the audit log its EHR use reaches. Ancillary departments work in modules whose access
/// is exported from the reporting database; the bedside units use the FHIR-based client.
struct Unit {
    code: &'static str,
    department: &'static str,
    log: EhrLog,
}

const UNITS: [Unit; 8] = [
    Unit {
        code: "icu",
        department: "Intensive Care",
        log: EhrLog::Fhir,
    },
    Unit {
        code: "ed",
        department: "Emergency",
        log: EhrLog::Fhir,
    },
    Unit {
        code: "med",
        department: "Medical-Surgical",
        log: EhrLog::AccessLog,
    },
    Unit {
        code: "cardio",
        department: "Cardiology",
        log: EhrLog::Fhir,
    },
    Unit {
        code: "onc",
        department: "Oncology",
        log: EhrLog::AccessLog,
    },
    Unit {
        code: "peds",
        department: "Pediatrics",
        log: EhrLog::Fhir,
    },
    Unit {
        code: "lab",
        department: "Laboratory",
        log: EhrLog::AccessLog,
    },
    Unit {
        code: "rad",
        department: "Radiology",
        log: EhrLog::AccessLog,
    },
];

/// The servers every generated hospital has: name, address, tier, EDR agent.
const SERVERS: [(&str, &str, Tier, bool); 9] = [
    ("dc-01", "10.10.0.10", Tier::DomainController, true),
    ("dc-02", "10.10.0.11", Tier::DomainController, true),
    ("app-lab-01", "10.10.1.21", Tier::Server, true),
    ("app-pharm-01", "10.10.1.22", Tier::Server, true),
    ("app-pacs-01", "10.10.1.23", Tier::Server, true),
    ("ehr-int-01", "10.10.1.24", Tier::Server, true),
    (DATABASE, "10.10.2.11", Tier::EphiDb, true),
    (EHR_APP, "10.10.3.21", Tier::EhrApp, true),
    // A passive sensor appliance: no Windows, no agent.
    (SENSOR, "10.10.9.5", Tier::Server, false),
];

/// Surnames and initials that make clinicians' account names (`jnguyen`).
const SURNAMES: [&str; 40] = [
    "adams", "baker", "brooks", "carter", "chen", "diaz", "dubois", "ellis", "evans", "fischer",
    "foster", "garcia", "grant", "hayes", "hughes", "ibrahim", "ito", "james", "jensen", "khan",
    "kowalski", "lee", "lopez", "mills", "morgan", "nguyen", "novak", "okafor", "ortiz", "patel",
    "quinn", "reyes", "silva", "tanaka", "vance", "walsh", "xu", "young", "zhang", "haddad",
];
const INITIALS: &[u8] = b"abcdefghjklmnprstw";

/// A clinician: their account, unit, workstation and patients.
#[derive(Debug, Clone)]
pub(super) struct Clinician {
    /// Windows and EHR account name, lowercase.
    pub account: String,
    /// Index into the unit table.
    unit: usize,
    /// Index into [`Hospital::workstations`] of the workstation they work at.
    pub home: usize,
    /// Indices into [`Hospital::patients`] of the patients they look after.
    pub panel: Vec<usize>,
}

/// The whole hospital, built once from the settings and the seed.
#[derive(Debug, Clone)]
pub(super) struct Hospital {
    /// Clinical workstations, in inventory order.
    pub workstations: Vec<Host>,
    /// Every other host, in the order of [`SERVERS`].
    pub servers: Vec<Host>,
    /// The clinical staff.
    pub clinicians: Vec<Clinician>,
    /// Patients' medical record numbers.
    pub patients: Vec<String>,
}

impl Hospital {
    /// Builds the hospital. Sizes are validated by the caller: at least one workstation,
    /// one clinician, and as many patients as units.
    pub fn build(rng: &mut Rng, workstations: usize, clinicians: usize, patients: usize) -> Self {
        let workstations: Vec<Host> = (0..workstations).map(workstation).collect();
        let servers = SERVERS
            .iter()
            .map(|&(name, ip, tier, agent)| Host {
                name: name.to_owned(),
                ip: ip.to_owned(),
                tier,
                agent,
            })
            .collect();
        let mrns: Vec<String> = (0..patients)
            .map(|i| (20_400_000 + i).to_string())
            .collect();

        // Admit patients to units at random, then draw each clinician's panel from their
        // unit's census so that clinicians of one unit share patients, as a care team does.
        let mut census: Vec<Vec<usize>> = vec![Vec::new(); UNITS.len()];
        let mut order: Vec<usize> = (0..patients).collect();
        rng.shuffle(&mut order);
        for (slot, patient) in order.into_iter().enumerate() {
            census[slot % UNITS.len()].push(patient);
        }
        let accounts = account_names(rng, clinicians);
        let clinicians = accounts
            .into_iter()
            .enumerate()
            .map(|(j, account)| {
                let home = j % workstations.len();
                let unit = home % UNITS.len();
                let size = rng.usize(4..=12).min(census[unit].len());
                let mut panel = rng.choose_multiple(census[unit].iter().copied(), size);
                panel.sort_unstable();
                Clinician {
                    account,
                    unit,
                    home,
                    panel,
                }
            })
            .collect();

        Hospital {
            workstations,
            servers,
            clinicians,
            patients: mrns,
        }
    }

    /// The server named `name`, one of the fixed set.
    pub fn server(&self, name: &str) -> &Host {
        self.servers
            .iter()
            .find(|host| host.name == name)
            .expect("callers name only servers of the fixed SERVERS table")
    }

    /// The domain controllers.
    pub fn domain_controllers(&self) -> Vec<&Host> {
        let dcs = self
            .servers
            .iter()
            .filter(|h| h.tier == Tier::DomainController);
        dcs.collect()
    }

    /// The unit index of workstation `index`.
    pub fn unit_of(&self, index: usize) -> usize {
        index % UNITS.len()
    }

    /// The inventory as `ward --inventory` reads it: one `[[asset]]` per host, servers
    /// first.
    pub fn inventory_toml(&self) -> String {
        #[derive(Serialize)]
        struct File {
            asset: Vec<Asset>,
        }
        let hosts = self.servers.iter().chain(&self.workstations);
        let asset = hosts
            .map(|host| Asset {
                host: host.name.clone(),
                ips: vec![host.ip.clone()],
                tier: host.tier,
                managed: true,
                agent: host.agent,
            })
            .collect();
        let text = toml::to_string(&File { asset })
            .expect("an inventory of strings and booleans always serializes");
        format!(
            "# Asset inventory of the generated hospital, as `ward --inventory` reads it.\n\n{text}"
        )
    }
}

impl Clinician {
    /// The department name the access log shows for this clinician.
    pub fn department(&self) -> &'static str {
        UNITS[self.unit].department
    }

    /// The audit log this clinician's EHR use reaches.
    pub fn log(&self) -> EhrLog {
        UNITS[self.unit].log
    }
}

/// Workstation `index`, named after its unit and numbered from 1 across the hospital.
fn workstation(index: usize) -> Host {
    let unit = index % UNITS.len();
    // Validation caps workstations at 1,000, so the host part stays within 11..=135.
    let host_part = 11 + index / UNITS.len();
    Host {
        name: format!("ws-{}-{:03}", UNITS[unit].code, index + 1),
        ip: format!("10.20.{}.{host_part}", unit + 1),
        tier: Tier::Workstation,
        agent: true,
    }
}

/// `count` distinct account names: an initial and a surname, with a number added when the
/// pair is taken, as directory services do.
fn account_names(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut names = Vec::with_capacity(count);
    while names.len() < count {
        let initial = char::from(INITIALS[rng.usize(..INITIALS.len())]);
        let surname = SURNAMES[rng.usize(..SURNAMES.len())];
        let base = format!("{initial}{surname}");
        let mut name = base.clone();
        let mut suffix = 2;
        while taken.contains(&name) {
            name = format!("{base}{suffix}");
            suffix += 1;
        }
        taken.insert(name.clone());
        names.push(name);
    }
    names
}
