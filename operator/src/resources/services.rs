//! Services: a headless one per shard (stable pod DNS names) and the cluster's client
//! endpoints (writer, reader, configuration) and metrics endpoint.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::build::Context;
use super::names;
use crate::api::{Engine, Mode};

/// `<cluster>-<shard>`: gives each pod of the shard the DNS name nodes and the operator
/// address it by.
pub(super) fn headless_service(ctx: &Context<'_>, shard: i32) -> Service {
    let name = names::shard_name(&ctx.meta.name, shard);
    Service {
        metadata: ctx.meta.shard_object(name, shard),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            // Nodes must resolve each other while not ready: a replica syncing from its
            // primary is not ready yet, and a primary is not ready until it has loaded.
            publish_not_ready_addresses: Some(true),
            selector: Some(names::shard_selector(&ctx.meta.name, shard)),
            ports: Some(vec![client_port(ctx), metrics_port()]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The cluster-wide Services, in a stable order.
pub(super) fn cluster_services(ctx: &Context<'_>) -> Vec<Service> {
    let cluster = ctx.meta.name.as_str();
    let mut services = Vec::new();
    match ctx.spec.engine {
        Engine::Redis => {
            services.push(client_service(ctx, names::primary_service(cluster), names::role_selector(cluster, names::ROLE_PRIMARY)));
            // Without replicas there is nothing to read from but the primaries. Like
            // ElastiCache's reader endpoint, it then answers with them, so clients that
            // are configured with a reader endpoint keep working at replicasPerShard 0.
            let reader_selector =
                if ctx.spec.replicas_per_shard > 0 { names::role_selector(cluster, names::ROLE_REPLICA) } else { names::cluster_selector(cluster) };
            services.push(client_service(ctx, names::reader_service(cluster), reader_selector));
            if ctx.spec.mode == Mode::Cluster {
                services.push(client_service(ctx, names::configuration_service(cluster), names::cluster_selector(cluster)));
            }
        }
        // memcached has no roles: every node serves its share of the keys, and clients
        // hash over all of them.
        Engine::Memcached => services.push(client_service(ctx, names::configuration_service(cluster), names::cluster_selector(cluster))),
    }
    services.push(metrics_service(ctx));
    services
}

fn client_service(ctx: &Context<'_>, name: String, selector: BTreeMap<String, String>) -> Service {
    Service {
        metadata: ctx.meta.object(name),
        spec: Some(ServiceSpec { type_: Some("ClusterIP".into()), selector: Some(selector), ports: Some(vec![client_port(ctx)]), ..ServiceSpec::default() }),
        status: None,
    }
}

/// `<cluster>-metrics`, labelled so the ServiceMonitor selects it and nothing else.
fn metrics_service(ctx: &Context<'_>) -> Service {
    Service {
        metadata: ctx.meta.object_with(names::metrics_service(&ctx.meta.name), &[(names::LABEL_METRICS, "true")]),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(names::cluster_selector(&ctx.meta.name)),
            ports: Some(vec![metrics_port()]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn client_port(ctx: &Context<'_>) -> ServicePort {
    let (name, port) = names::client_port(ctx.spec.engine);
    service_port(name, port)
}

fn metrics_port() -> ServicePort {
    service_port(names::PORT_NAME_METRICS, names::ADMIN_PORT)
}

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        // By name, so the Service follows the container if its port ever moves.
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}
