//! The asset inventory: which hosts are workstations, servers, ePHI databases.
//!
//! Read from TOML, one `[[asset]]` table per host:
//!
//! ```toml
//! [[asset]]
//! host = "ws-cardio-07"          # as any sensor logs it; stored as the short name
//! ips = ["10.20.7.31"]
//! tier = "workstation"           # workstation | server | domain_controller | ephi_db
//!                                # | ehr_app | medical_device
//! managed = true                 # optional, default true
//! agent = true                   # optional, default true: runs an EDR agent
//! ```
//!
//! Hosts the inventory does not list are still tracked; their tier is unknown.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ward_schemas::names::HostName;

use crate::error::CorrelateError;

/// The role of an asset, which decides where a chain starts and what it must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// A clinical or office workstation or laptop: where chains start.
    Workstation,
    /// An application or infrastructure server.
    Server,
    /// An Active Directory domain controller.
    DomainController,
    /// A database holding ePHI.
    EphiDb,
    /// An EHR application server.
    EhrApp,
    /// A medical device, usually without an agent.
    MedicalDevice,
}

impl Tier {
    /// The name used in the inventory file and in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Workstation => "workstation",
            Tier::Server => "server",
            Tier::DomainController => "domain_controller",
            Tier::EphiDb => "ephi_db",
            Tier::EhrApp => "ehr_app",
            Tier::MedicalDevice => "medical_device",
        }
    }

    /// Whether the asset holds or serves ePHI: reaching it makes a chain an incident.
    pub fn holds_ephi(self) -> bool {
        matches!(self, Tier::EphiDb | Tier::EhrApp)
    }
}

/// One asset as the inventory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Host name, normalized to the lowercase short name on load.
    pub host: String,
    /// Addresses the host uses.
    #[serde(default)]
    pub ips: Vec<String>,
    /// Its role.
    pub tier: Tier,
    /// Whether IT manages it. Default true.
    #[serde(default = "yes")]
    pub managed: bool,
    /// Whether it runs an EDR agent. Default true.
    #[serde(default = "yes")]
    pub agent: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    asset: Vec<Asset>,
}

/// The assets, looked up by host name or address.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    assets: Vec<Asset>,
    by_host: HashMap<String, usize>,
    by_ip: HashMap<String, usize>,
}

impl Inventory {
    /// An inventory that lists nothing: every host's tier is unknown.
    pub fn empty() -> Inventory {
        Inventory::default()
    }

    /// Reads an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, CorrelateError> {
        let text = std::fs::read_to_string(path).map_err(|source| CorrelateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Inventory::parse(&text).map_err(|message| CorrelateError::Inventory {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses inventory TOML; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Inventory, String> {
        let file: InventoryFile = toml::from_str(text).map_err(|error| error.to_string())?;
        let mut inventory = Inventory::default();
        for mut asset in file.asset {
            let name = HostName::parse(&asset.host)
                .ok_or_else(|| format!("asset host {:?} is not a host name", asset.host))?;
            asset.host = name.host;
            let index = inventory.assets.len();
            if inventory
                .by_host
                .insert(asset.host.clone(), index)
                .is_some()
            {
                return Err(format!("host {:?} is listed twice", asset.host));
            }
            for ip in &asset.ips {
                if let Some(other) = inventory.by_ip.insert(ip.clone(), index) {
                    let other = &inventory.assets[other].host;
                    return Err(format!(
                        "address {ip} is listed for {other} and {}",
                        asset.host
                    ));
                }
            }
            inventory.assets.push(asset);
        }
        Ok(inventory)
    }

    /// Every asset, in file order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The asset a host name (as any sensor logs it) or address belongs to.
    pub fn find(&self, name_or_ip: &str) -> Option<&Asset> {
        let index = match self.by_ip.get(name_or_ip) {
            Some(index) => Some(*index),
            None => {
                let host = HostName::parse(name_or_ip)?.host;
                self.by_host.get(&host).copied()
            }
        };
        index.map(|index| &self.assets[index])
    }

    /// The tier of a host name or address, if the inventory lists it.
    pub fn tier(&self, name_or_ip: &str) -> Option<Tier> {
        self.find(name_or_ip).map(|asset| asset.tier)
    }

    /// The host name an address belongs to, if the inventory lists it.
    pub fn host_of_ip(&self, ip: &str) -> Option<&str> {
        self.by_ip
            .get(ip)
            .map(|index| self.assets[*index].host.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVENTORY: &str = r#"
        [[asset]]
        host = "WORKSTATION5.theshire.local"
        ips = ["172.18.39.5"]
        tier = "workstation"

        [[asset]]
        host = "db-01"
        ips = ["10.1.0.10"]
        tier = "ephi_db"
        agent = false
    "#;

    #[test]
    fn hosts_are_found_by_any_spelling_and_by_address() {
        let inventory = Inventory::parse(INVENTORY).expect("a valid inventory");

        assert_eq!(inventory.tier("workstation5"), Some(Tier::Workstation));
        assert_eq!(inventory.tier("WORKSTATION5"), Some(Tier::Workstation));
        assert_eq!(inventory.tier("172.18.39.5"), Some(Tier::Workstation));
        assert_eq!(inventory.tier("10.1.0.10"), Some(Tier::EphiDb));
        assert_eq!(inventory.host_of_ip("10.1.0.10"), Some("db-01"));
        assert_eq!(inventory.tier("ws-unknown"), None);
        let db = inventory.find("db-01").expect("listed");
        assert!(db.managed && !db.agent);
    }

    #[test]
    fn mistakes_are_named() {
        let twice = format!("{INVENTORY}\n[[asset]]\nhost = \"db-01\"\ntier = \"server\"\n");
        assert!(
            Inventory::parse(&twice)
                .unwrap_err()
                .contains("listed twice")
        );
        let tier = INVENTORY.replace("ephi_db", "database");
        assert!(Inventory::parse(&tier).unwrap_err().contains("database"));
    }
}
