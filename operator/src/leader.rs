//! Leader election over a coordination.k8s.io Lease, so two operator replicas can run
//! and only one reconciles. The decision is a pure function of the Lease and the clock;
//! the loop around it writes the Lease with optimistic concurrency (resourceVersion), so
//! two candidates can never both win the same term.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct LeaderConfig {
    pub lease_name: String,
    pub namespace: String,
    pub identity: String,
    /// How long a lease is valid without renewal; a dead leader is replaced after this.
    pub lease_duration: Duration,
    /// How often the leader renews (well under lease_duration).
    pub renew_every: Duration,
}

impl LeaderConfig {
    pub fn new(lease_name: String, namespace: String, identity: String) -> LeaderConfig {
        LeaderConfig { lease_name, namespace, identity, lease_duration: Duration::from_secs(15), renew_every: Duration::from_secs(4) }
    }
}

/// What to do with the Lease as it stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Write this spec: take a free or expired lease, or renew our own.
    Write(LeaseSpec),
    /// Someone else holds a valid lease.
    Wait { holder: String },
}

/// Decides from the current lease spec (None: no Lease yet).
pub fn decide(current: Option<&LeaseSpec>, me: &str, now: Timestamp, duration: Duration) -> Decision {
    let duration_secs = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    let held_by = current.and_then(|s| s.holder_identity.clone()).filter(|h| !h.is_empty());
    let expired = current.is_none_or(|s| {
        let Some(renewed) = s.renew_time.as_ref() else { return true };
        let valid_for = SignedDuration::from_secs(i64::from(s.lease_duration_seconds.unwrap_or(duration_secs)));
        renewed.0.saturating_add(valid_for).map(|until| until <= now).unwrap_or(true)
    });
    match held_by {
        Some(holder) if holder != me && !expired => Decision::Wait { holder },
        Some(holder) if holder == me => {
            let mut spec = current.cloned().unwrap_or_default();
            spec.renew_time = Some(MicroTime(now));
            spec.lease_duration_seconds = Some(duration_secs);
            Decision::Write(spec)
        }
        _ => {
            let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
            Decision::Write(LeaseSpec {
                holder_identity: Some(me.to_string()),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_duration_seconds: Some(duration_secs),
                lease_transitions: Some(if held_by.is_some() { transitions.saturating_add(1) } else { transitions }),
                ..Default::default()
            })
        }
    }
}

/// One attempt to take or renew the lease. Ok(true) when we hold it afterwards.
pub async fn try_once(api: &Api<Lease>, cfg: &LeaderConfig) -> Result<bool, kube::Error> {
    let current = api.get_opt(&cfg.lease_name).await?;
    let decision = decide(current.as_ref().and_then(|l| l.spec.as_ref()), &cfg.identity, Timestamp::now(), cfg.lease_duration);
    let spec = match decision {
        Decision::Wait { holder } => {
            tracing::debug!(%holder, "lease held by another replica");
            return Ok(false);
        }
        Decision::Write(spec) => spec,
    };
    let result = match current {
        None => {
            let lease = Lease { metadata: ObjectMeta { name: Some(cfg.lease_name.clone()), ..Default::default() }, spec: Some(spec) };
            api.create(&PostParams::default(), &lease).await
        }
        Some(mut lease) => {
            // Replace carries the resourceVersion read above: if anyone wrote in between,
            // the API server answers 409 and we lost this round.
            lease.spec = Some(spec);
            api.replace(&cfg.lease_name, &PostParams::default(), &lease).await
        }
    };
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Waits until this replica holds the lease.
pub async fn acquire(client: &Client, cfg: &LeaderConfig) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    loop {
        match try_once(&api, cfg).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "leader election: could not read or write the lease"),
        }
        tokio::time::sleep(cfg.renew_every).await;
    }
}

/// Renews the lease until a renewal has not succeeded for a whole lease duration (then
/// another replica may take over, so this one must stop), and returns.
pub async fn hold(client: &Client, cfg: &LeaderConfig) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.renew_every).await;
        match try_once(&api, cfg).await {
            Ok(true) => last_ok = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::error!("leader election: another replica took the lease");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "leader election: renewal failed"),
        }
        // Stop a little before the lease could expire elsewhere.
        if last_ok.elapsed() + cfg.renew_every >= cfg.lease_duration {
            tracing::error!("leader election: could not renew the lease in time");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(15);

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }
    fn held(by: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            renew_time: Some(MicroTime(t(renewed))),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_or_empty_lease_is_taken() {
        let Decision::Write(spec) = decide(None, "a", t(0), D) else { panic!() };
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_transitions, Some(0));
        assert!(matches!(decide(Some(&LeaseSpec::default()), "a", t(0), D), Decision::Write(_)));
    }

    #[test]
    fn a_valid_lease_of_another_is_respected_until_it_expires() {
        assert_eq!(decide(Some(&held("b", 0)), "a", t(14), D), Decision::Wait { holder: "b".into() });
        let Decision::Write(spec) = decide(Some(&held("b", 0)), "a", t(15), D) else { panic!("expired lease not taken") };
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.acquire_time, Some(MicroTime(t(15))));
    }

    #[test]
    fn the_holder_renews_keeping_its_acquire_time() {
        let mut mine = held("a", 0);
        mine.acquire_time = Some(MicroTime(t(-100)));
        let Decision::Write(spec) = decide(Some(&mine), "a", t(5), D) else { panic!() };
        assert_eq!(spec.renew_time, Some(MicroTime(t(5))));
        assert_eq!(spec.acquire_time, Some(MicroTime(t(-100))));
        assert_eq!(spec.lease_transitions, Some(3));
    }
}
