//! Statistical and behavioural detection: each host's windows of activity held to its own
//! baseline (EWMA mean and spread, z-scores), to hosts in general when it has none yet, and to
//! the whole network's; the distinct sources reaching each destination (`fan_in`); new
//! service ports, off-hours activity, protocol-mix shifts, new talkers, beaconing and slow
//! exfiltration.
//!
//! `BaselineDetector` is a `FlowDetector`: it runs on the aggregator thread, sees each flow as
//! it ends and closes windows as capture time passes. Every alert says why in numbers (the
//! feature, its value, the baseline and z). Volume and fan-out are Medium far past
//! `anomaly_threshold` (twice it, and against hosts in general on a real count too), Low when
//! marginal or against the whole network (the rule in `volume`). Nothing alerts until a
//! baseline has learned `warmup_windows` windows. Bounded: `max_hosts` profiles and open
//! windows, the beacon table's `max_pairs`, as many exfiltration sums; past a cap the stalest
//! go, counted.

pub mod beacon;
pub mod ewma;
mod exfil;
mod explain;
pub mod fan_in;
pub mod profile;
mod view;
mod volume;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ahash::RandomState;
use serde::{Deserialize, Serialize};
use serde_json::json;

use self::beacon::BeaconTable;
use self::fan_in::{FanIn, FanInLearned};
use self::profile::{js_divergence, Profile};
use self::volume::{deviations, volume_alert, Against};
use super::builtin::{self, Builtin};
use super::config::{BaselineConfig, BeaconConfig, LearnParams};
use super::{FlowAlert, FlowDetector};
use crate::engine::features::window::{HostWindow, PROTO_NAMES};
use crate::engine::flow::{FlowRecord, FlowState};
use crate::engine::frame::Ts;

/// Least spread assumed per window feature (a baseline that never varied still needs a real
/// change to alert): connections, destinations, ports, bytes out, bytes in, failed ratio,
/// new destinations.
const FLOORS: [f64; 7] = [20.0, 10.0, 10.0, 4_194_304.0, 4_194_304.0, 0.25, 10.0];
/// Least spread as a share of the mean.
const FLOOR_FRAC: f64 = 0.5;
/// Weight of each host window in the all-hosts baseline (many windows a window).
const POPULATION_ALPHA: f64 = 0.01;
/// Least flows in a window before its protocol mix is judged.
const MIX_MIN_FLOWS: u64 = 20;
/// Divergence of the protocol mix that counts as a shift.
const MIX_SHIFT: f64 = 0.4;
/// A host's profile must have seen this many flows before an hour can be "unusual" for it.
const HOURS_MIN_FLOWS: u64 = 200;
/// An hour holding less than this share of a host's flows is outside its usual hours.
const RARE_HOUR: f64 = 0.01;

/// What the detector has learned, for saving between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    pub hosts: Vec<(IpAddr, Profile)>,
    pub population: Profile,
    pub network: Profile,
    /// Absent from models saved before fan-in was learned.
    #[serde(default)]
    pub fan_in: FanInLearned,
}

pub struct BaselineDetector {
    cfg: BaselineConfig,
    params: LearnParams,
    /// Learn without alerting (`nsm-tui learn`).
    quiet: bool,
    /// Boxed: the table then holds pointers, so growing it copies 8 bytes per host, not ~600.
    profiles: HashMap<IpAddr, Box<Profile>, RandomState>,
    population: Profile,
    network: Profile,
    windows: HashMap<IpAddr, HostWindow, RandomState>,
    fan_in: FanIn,
    window: Option<i64>,
    beacons: BeaconTable,
    exfil: HashMap<(IpAddr, IpAddr), u64, RandomState>,
    exfil_window: Option<i64>,
    /// (host, rule, detail) alerted in this window.
    alerted: HashSet<(IpAddr, u64, u32), RandomState>,
    exfil_alerted: HashSet<(IpAddr, IpAddr), RandomState>,
    new_talkers: usize,
    /// Capture second of the last save of what was learned.
    last_export: Option<i64>,
    profiles_evicted: u64,
    windows_dropped: u64,
    windows_closed: u64,
    /// The whole network's last closed window, judged (see `view`).
    last_network: Option<view::Judged>,
}

impl BaselineDetector {
    pub fn new(cfg: &BaselineConfig, beacons: &BeaconConfig, params: LearnParams) -> Self {
        BaselineDetector {
            cfg: cfg.clone(),
            params,
            quiet: false,
            profiles: HashMap::default(),
            population: Profile::default(),
            network: Profile::default(),
            windows: HashMap::default(),
            fan_in: FanIn::default(),
            window: None,
            beacons: BeaconTable::new(beacons),
            exfil: HashMap::default(),
            exfil_window: None,
            alerted: HashSet::default(),
            exfil_alerted: HashSet::default(),
            new_talkers: 0,
            last_export: None,
            profiles_evicted: 0,
            windows_dropped: 0,
            windows_closed: 0,
            last_network: None,
        }
    }

    /// Learn only: no alerts (building baselines from traffic the user calls normal).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Start from what an earlier run or `nsm-tui learn` saved.
    pub fn with_learned(mut self, l: Learned) -> Self {
        self.population = l.population;
        self.network = l.network;
        self.fan_in = FanIn::with_learned(l.fan_in, self.cfg.max_hosts.max(1));
        for (ip, p) in l.hosts.into_iter().take(self.cfg.max_hosts.max(1)) {
            self.profiles.insert(ip, Box::new(p));
        }
        self
    }

    /// Everything learned so far (open windows are not included).
    pub fn learned(&self) -> Learned {
        // Sorted by reference, then copied: sorting the ~600-byte profiles themselves moved
        // each one a dozen times.
        let mut order: Vec<(&IpAddr, &Box<Profile>)> = self.profiles.iter().collect();
        order.sort_unstable_by_key(|(ip, _)| **ip);
        let hosts: Vec<(IpAddr, Profile)> = order
            .into_iter()
            .map(|(ip, p)| (*ip, Profile::clone(p)))
            .collect();
        Learned {
            hosts,
            population: self.population.clone(),
            network: self.network.clone(),
            fan_in: self.fan_in.learned(),
        }
    }

    /// Whether the all-hosts baseline is still learning (shown in the status bar).
    pub fn learning(&self) -> bool {
        self.population.windows < self.cfg.warmup_windows
    }

    fn warmed(&self, p: &Profile) -> bool {
        p.windows >= self.cfg.warmup_windows.max(1)
    }

    fn window_of(&self, t: Ts) -> i64 {
        t.secs()
            .div_euclid(i64::try_from(self.params.window_secs.max(1)).unwrap_or(60))
    }

    fn roll(&mut self, idx: i64, out: &mut Vec<FlowAlert>) {
        match self.window {
            None => self.window = Some(idx),
            Some(w) if idx > w => {
                self.close_window(w, out);
                self.window = Some(idx);
            }
            Some(_) => {}
        }
    }

    fn raise(&mut self, out: &mut Vec<FlowAlert>, key: (IpAddr, u32), b: &Builtin, fa: FlowAlert) {
        if self.quiet || !self.alerted.insert((key.0, b.id, key.1)) {
            return;
        }
        out.push(fa);
    }

    fn close_window(&mut self, idx: i64, out: &mut Vec<FlowAlert>) {
        self.windows_closed += 1;
        let ts = Ts::from_parts(
            (idx + 1).saturating_mul(i64::try_from(self.params.window_secs.max(1)).unwrap_or(60)),
            0,
        );
        // In address order: the all-hosts baseline learns each window in turn, and an EWMA
        // depends on the order (a run must give the same result every time).
        let mut windows: Vec<(IpAddr, HostWindow)> =
            std::mem::take(&mut self.windows).into_iter().collect();
        windows.sort_unstable_by_key(|(ip, _)| *ip);
        let mut total = HostWindow::default();
        let mut top: Option<(IpAddr, u64)> = None;
        for (host, w) in windows {
            total.flows += w.flows;
            total.bytes_out += w.bytes_out;
            total.bytes_in += w.bytes_in;
            if top.is_none_or(|(_, b)| w.bytes_out > b) {
                top = Some((host, w.bytes_out));
            }
            self.judge_window(host, idx, ts, &w, out);
        }
        let judge = !self.quiet && self.warmed(&self.population);
        self.fan_in.close(
            fan_in::Close {
                ts,
                judge,
                k: self.params.anomaly_threshold,
                warmup: self.cfg.warmup_windows.max(1),
                alpha: self.cfg.alpha,
                population_alpha: POPULATION_ALPHA,
                cap: self.cfg.max_hosts.max(1),
            },
            out,
        );
        // The whole network against its own baseline, named after the host that sent most;
        // not when that host's own alert already says it.
        if let Some((host, _)) =
            top.filter(|(h, _)| !self.alerted.contains(&(*h, builtin::ANOMALY_VOLUME.id, 0)))
        {
            if self.warmed(&self.network) {
                let devs = deviations(
                    &self.network,
                    &total,
                    self.params.anomaly_threshold,
                    &[0, 3, 4],
                );
                if !devs.is_empty() {
                    let fa = volume_alert(
                        &builtin::ANOMALY_VOLUME,
                        ts,
                        host,
                        None,
                        Against::Network,
                        &devs,
                        self.params.anomaly_threshold,
                    );
                    self.raise(out, (host, 1), &builtin::ANOMALY_VOLUME, fa);
                }
            }
        }
        self.last_network = Some(self.judged(&total));
        if total.flows > 0 {
            self.network.learn(idx, &total, self.cfg.alpha);
        }
        self.alerted.clear();
        self.new_talkers = 0;
    }

    fn judge_window(
        &mut self,
        host: IpAddr,
        idx: i64,
        ts: Ts,
        w: &HostWindow,
        out: &mut Vec<FlowAlert>,
    ) {
        let threshold = self.params.anomaly_threshold;
        let own = self
            .profiles
            .get(&host)
            .filter(|p| self.warmed(p))
            .map(|p| Profile::clone(p));
        // A host with no baseline of its own is held to hosts in general (see `volume` for
        // the severity of each).
        let (base, whose) = match &own {
            Some(p) => (Some(p), Against::Own),
            None if self.warmed(&self.population) => (Some(&self.population), Against::Hosts),
            None => (None, Against::Hosts),
        };
        let mut found: Vec<(Builtin, FlowAlert)> = Vec::new();
        if let Some(p) = base {
            let peer = w.top_dst.map(|(d, _)| d);
            let vol = deviations(p, w, threshold, &[0, 3, 4]);
            if !vol.is_empty() {
                found.push((
                    builtin::ANOMALY_VOLUME,
                    volume_alert(
                        &builtin::ANOMALY_VOLUME,
                        ts,
                        host,
                        peer,
                        whose,
                        &vol,
                        threshold,
                    ),
                ));
            }
            let fan = deviations(p, w, threshold, &[1, 2, 6]);
            if !fan.is_empty() {
                found.push((
                    builtin::FAN_OUT,
                    volume_alert(&builtin::FAN_OUT, ts, host, peer, whose, &fan, threshold),
                ));
            }
        }
        let anomalous = !found.is_empty();
        for (b, fa) in found {
            self.raise(out, (host, 0), &b, fa);
        }
        if let Some(p) = own.as_ref().filter(|_| w.flows >= MIX_MIN_FLOWS) {
            let now: [f64; 4] = w.proto.map(|n| n as f64);
            let d = js_divergence(&now, &p.proto_mix);
            if d >= MIX_SHIFT {
                let fa = FlowAlert::about(
                    builtin::PROTOCOL_SHIFT.alert_at(
                        ts,
                        format!("protocol mix {} vs {} (Jensen-Shannon divergence {d:.2}, threshold {MIX_SHIFT})", mix_text(&now), mix_text(&p.proto_mix)),
                        json!({"divergence": d, "window": mix_text(&now), "baseline": mix_text(&p.proto_mix)}),
                    ),
                    host,
                    None,
                );
                self.raise(out, (host, 0), &builtin::PROTOCOL_SHIFT, fa);
            }
        }
        if self.profiles.len() >= self.cfg.max_hosts.max(1) && !self.profiles.contains_key(&host) {
            self.evict_profiles();
        }
        // An anomalous window still teaches, at a quarter of the weight: a lasting change is
        // learned over time instead of alerting forever, a burst barely moves the baseline.
        let alpha = if anomalous {
            self.cfg.alpha / 4.0
        } else {
            self.cfg.alpha
        };
        self.profiles.entry(host).or_default().learn(idx, w, alpha);
        self.population.learn(idx, w, POPULATION_ALPHA);
    }

    fn evict_profiles(&mut self) {
        let mut ages: Vec<(i64, IpAddr)> = self
            .profiles
            .iter()
            .map(|(ip, p)| (p.last_window, *ip))
            .collect();
        let n = (ages.len() / 16).max(1);
        if n < ages.len() {
            ages.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        }
        for (_, ip) in ages.iter().take(n) {
            self.profiles.remove(ip);
            self.profiles_evicted += 1;
        }
    }

    fn per_flow(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        let host = r.src_ip;
        let ts = r.end;
        let answered = r.pkts_toclient > 0 && r.state != FlowState::New;
        let profile = self.profiles.get(&host).filter(|p| self.warmed(p));
        let mut found: Vec<(Builtin, u32, FlowAlert)> = Vec::new();
        if let Some(p) = profile {
            let service = r.dest_port;
            if r.has_ports()
                && answered
                && service < 49152
                && !p.knows_port(service)
                && p.ports.len() < profile::MAX_PORTS
            {
                let used: Vec<String> = p.ports.iter().take(12).map(u16::to_string).collect();
                let fa = FlowAlert::of_flow(
                    builtin::UNUSUAL_PORT.alert_at(
                        ts,
                        format!("{host} used service port {service} on {} for the first time; its usual ports: {}", r.dest_ip, used.join(", ")),
                        json!({"port": service, "usual_ports": p.ports}),
                    ),
                    r,
                );
                found.push((builtin::UNUSUAL_PORT, u32::from(service), fa));
            }
            let hour = (r.start.secs().rem_euclid(86_400) / 3600) as usize;
            let total: u64 = p.hours.iter().sum();
            let outside = match self.cfg.business_hours {
                Some([start, end]) => !(usize::from(start)..usize::from(end)).contains(&hour),
                None => total >= HOURS_MIN_FLOWS && p.hour_share(hour) < RARE_HOUR,
            };
            if outside && answered {
                let why = match self.cfg.business_hours {
                    Some([s, e]) => format!("outside business hours {s:02}:00–{e:02}:00 UTC"),
                    None => format!(
                        "{:.1}% of its {total} learned flows fall in this hour",
                        p.hour_share(hour) * 100.0
                    ),
                };
                let fa = FlowAlert::of_flow(
                    builtin::OFF_HOURS.alert_at(
                        ts,
                        format!("{host} active at {hour:02}:00 UTC: {why}"),
                        json!({"hour": hour, "hour_share": p.hour_share(hour)}),
                    ),
                    r,
                );
                found.push((builtin::OFF_HOURS, 0, fa));
            }
        } else if !self.profiles.contains_key(&host)
            && answered
            && self.warmed(&self.population)
            && self.new_talkers < self.cfg.new_talkers_per_window
        {
            self.new_talkers += 1;
            let fa = FlowAlert::of_flow(
                builtin::NEW_TALKER.alert_at(
                    ts,
                    format!(
                        "{host} has no history on this network; first seen talking to {}:{}",
                        r.dest_ip, r.dest_port
                    ),
                    json!({}),
                ),
                r,
            );
            found.push((builtin::NEW_TALKER, 0, fa));
        }
        for (b, detail, fa) in found {
            self.raise(out, (host, detail), &b, fa);
        }
        if let Some(b) = self.beacons.observe(host, r.dest_ip, r.dest_port, r.start) {
            let fa = FlowAlert::of_flow(
                builtin::BEACONING.alert_at(
                    ts,
                    format!(
                        "{} connected to {}:{} {} times every {:.1} s ± {:.1} s (jitter {:.0}%) over {:.0} min",
                        b.host, b.dest, b.port, b.connections, b.mean_interval, b.mean_interval * b.jitter, b.jitter * 100.0, b.span / 60.0
                    ),
                    json!({"connections": b.connections, "interval_secs": b.mean_interval, "jitter": b.jitter, "span_secs": b.span}),
                ),
                r,
            );
            if !self.quiet {
                out.push(fa);
            }
        }
        self.exfiltration(r, out);
    }
}

fn mix_text(m: &[f64; 4]) -> String {
    let total: f64 = m.iter().sum();
    if total <= 0.0 {
        return "none".into();
    }
    m.iter()
        .zip(PROTO_NAMES)
        .filter(|(&v, _)| v / total >= 0.005)
        .map(|(&v, n)| format!("{n} {:.0}%", 100.0 * v / total))
        .collect::<Vec<_>>()
        .join(" ")
}

impl FlowDetector for BaselineDetector {
    fn name(&self) -> &'static str {
        "baseline"
    }

    fn flow_ended(&mut self, r: &FlowRecord, out: &mut Vec<FlowAlert>) {
        if !self.cfg.enabled {
            return;
        }
        let idx = self.window_of(r.end);
        self.roll(idx, out);
        let host = r.src_ip;
        let new_dst = self
            .profiles
            .get(&host)
            .is_some_and(|p| p.windows > 0 && !p.knows_destination(r.dest_ip));
        if !self.windows.contains_key(&host) && self.windows.len() >= self.cfg.max_hosts.max(1) {
            self.windows_dropped += 1;
        } else {
            self.windows.entry(host).or_default().add(r, new_dst);
        }
        self.fan_in.add(host, r.dest_ip, self.cfg.max_hosts.max(1));
        self.per_flow(r, out);
    }

    fn tick(&mut self, now: Ts, out: &mut Vec<FlowAlert>) {
        if self.cfg.enabled && self.window.is_some() {
            let idx = self.window_of(now);
            self.roll(idx, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<FlowAlert>) {
        if let Some(w) = self.window.take() {
            self.close_window(w, out);
        }
        if self.exfil_window.take().is_some() {
            self.close_exfil_window();
        }
    }

    fn export(&mut self, now: Option<Ts>) -> Option<Learned> {
        if !self.cfg.enabled {
            return None;
        }
        if let Some(now) = now {
            let every = i64::try_from(self.params.update_secs.max(1)).unwrap_or(300);
            match self.last_export {
                None => {
                    self.last_export = Some(now.secs());
                    return None;
                }
                Some(t) if now.secs() - t < every => return None,
                Some(_) => self.last_export = Some(now.secs()),
            }
        }
        Some(self.learned())
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("profiles", self.profiles.len() as u64),
            ("profiles_evicted", self.profiles_evicted),
            ("windows_closed", self.windows_closed),
            ("windows_dropped", self.windows_dropped),
            ("fan_in_dropped", self.fan_in.dropped),
            ("beacon_series", self.beacons.len() as u64),
            ("beacon_series_evicted", self.beacons.evicted),
            ("baseline_learning", u64::from(self.learning())),
        ]
    }

    fn baseline_view(&self) -> Option<crate::engine::stats::BaselineView> {
        self.cfg.enabled.then(|| self.view())
    }
}

#[cfg(test)]
mod tests;
