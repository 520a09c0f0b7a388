//! The one Rhai engine every rule runs on, and what a script sees of an event.
//!
//! The engine is built once with hard limits, so a rule that loops forever or builds a
//! huge string is stopped and counted, not left to stall the pipeline. Scripts get no
//! file, network or process access: Rhai has none unless the host registers it, `import`
//! resolves nothing, `eval` is disabled, and `print` and `debug` go to TRACE logs only.
//!
//! An event reaches a script as an [`EventView`] that reads columns on demand
//! (`e.user`, `e.logon_type`), so a rule pays only for the fields it looks at. An absent
//! column reads as `()`.

use std::net::IpAddr;
use std::sync::Arc;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, ImmutableString};
use ward_schemas::Event;

use crate::memory::Memory;
use crate::rules::{RuleSettings, TierLookup};

/// Read-only view of one event, cheap to clone into a script call.
#[derive(Debug, Clone)]
pub struct EventView(pub Arc<Event>);

/// Builds the hardened engine with the event view and helper functions registered.
pub(crate) fn build(settings: &RuleSettings, tiers: TierLookup) -> Engine {
    let mut engine = Engine::new();

    engine.set_max_operations(settings.max_operations);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 64);
    engine.set_max_string_size(64 * 1024);
    engine.set_max_array_size(10_000);
    engine.set_max_map_size(10_000);
    engine.set_max_variables(256);
    engine.set_strict_variables(true);
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.on_print(|text| tracing::trace!(text, "rule printed"));
    engine.on_debug(|text, _, _| tracing::trace!(text, "rule debug output"));

    register_event(&mut engine);
    register_memory(&mut engine);
    engine.register_fn("tier", move |name: ImmutableString| -> ImmutableString {
        tiers(name.as_str()).unwrap_or("unknown").into()
    });
    engine.register_fn("is_private_ip", |ip: ImmutableString| -> bool {
        ip.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(ip) => ip.is_private() || ip.is_loopback() || ip.is_link_local(),
            IpAddr::V6(ip) => ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        })
    });
    engine
}

fn text(value: &Option<String>) -> Dynamic {
    value
        .as_deref()
        .map_or(Dynamic::UNIT, |text| Dynamic::from(text.to_owned()))
}

fn int<T: Into<i64> + Copy>(value: Option<T>) -> Dynamic {
    value.map_or(Dynamic::UNIT, |value| Dynamic::from_int(value.into()))
}

/// Registers a getter per event column, named as the column.
fn register_event(engine: &mut Engine) {
    engine.register_type_with_name::<EventView>("Event");

    macro_rules! texts {
        ($($field:ident),* $(,)?) => {$(
            engine.register_get(stringify!($field), |e: &mut EventView| text(&e.0.$field));
        )*};
    }
    texts!(
        event_code,
        host,
        host_domain,
        src_host,
        src_ip,
        dst_host,
        dst_ip,
        protocol,
        user,
        user_domain,
        logon_id,
        process_name,
        process_path,
        command_line,
        parent_process_name,
        service_name,
        share_name,
        share_target,
        file_path,
        patient_id,
        ehr_action,
        ehr_resource,
        purpose_of_use,
        signature,
    );

    engine.register_get("event_id", |e: &mut EventView| e.0.event_id.to_string());
    engine.register_get("time", |e: &mut EventView| e.0.time.micros());
    engine.register_get("observed_time", |e: &mut EventView| {
        int(e.0.observed_time.map(|time| time.micros()))
    });
    engine.register_get("source_kind", |e: &mut EventView| e.0.source_kind.as_str());
    engine.register_get("source_format", |e: &mut EventView| e.0.source_format);
    engine.register_get("class", |e: &mut EventView| e.0.class.as_str());
    engine.register_get("activity", |e: &mut EventView| e.0.activity.clone());
    engine.register_get("src_port", |e: &mut EventView| int(e.0.src_port));
    engine.register_get("dst_port", |e: &mut EventView| int(e.0.dst_port));
    engine.register_get("logon_type", |e: &mut EventView| int(e.0.logon_type));
    engine.register_get("break_glass", |e: &mut EventView| {
        e.0.break_glass.map_or(Dynamic::UNIT, Dynamic::from_bool)
    });
    engine.register_get("outcome", |e: &mut EventView| {
        e.0.outcome
            .map_or(Dynamic::UNIT, |o| Dynamic::from(o.as_str()))
    });
    engine.register_get("severity", |e: &mut EventView| {
        e.0.severity
            .map_or(Dynamic::UNIT, |s| Dynamic::from(s.as_str()))
    });
    engine.register_get("provenance", |e: &mut EventView| e.0.provenance.clone());
    engine.register_get("raw", |e: &mut EventView| e.0.raw.clone());
}

/// Registers the [`Memory`] questions as methods.
fn register_memory(engine: &mut Engine) {
    engine.register_type_with_name::<Memory>("Memory");
    engine.register_fn(
        "distinct",
        |memory: &mut Memory, key: ImmutableString, value: ImmutableString, window: i64| {
            memory.distinct(&key, &value, window)
        },
    );
    engine.register_fn(
        "seen",
        |memory: &mut Memory, key: ImmutableString, value: ImmutableString| {
            memory.seen(&key, &value)
        },
    );
    engine.register_fn("known", |memory: &mut Memory, key: ImmutableString| {
        memory.known(&key)
    });
}
