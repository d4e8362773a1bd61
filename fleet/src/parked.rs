//! `fleet events list|replay|discard`: the console's parked-event page for
//! operators without a browser. It works on the services' own schemas
//! with the services' own replay code (`<service>::parked_events`, the
//! handlers their consumers run), so a replay here is the one the console
//! and the gRPC `ParkedEvents` do.
use common::StartupError;
use common::config::Infra;
use common::events::ParkedEvents;
use proto::events::v1::ParkedKey;

pub const USAGE: &str = "usage: fleet events list
       fleet events replay SERVICE CONSUMER EVENT_ID    apply a parked event once through its consumer
       fleet events discard SERVICE CONSUMER EVENT_ID   drop it without applying it
(SERVICE: cart, order, payment or analytics; `list` prints all three columns)";

/// Connections per schema: one command at a time.
const CONNECTIONS: u32 = 2;

/// The parked events of one consuming service, on its schema.
async fn of_service(infra: &Infra, service: &str) -> Result<ParkedEvents, StartupError> {
    Ok(match service {
        "cart" => cart::parked_events(infra.mysql_pool(cart::SCHEMA, CONNECTIONS, &cart::MIGRATOR).await?),
        "order" => order::parked_events(infra.mysql_pool(order::SCHEMA, CONNECTIONS, &order::MIGRATOR).await?),
        "payment" => {
            let config = crate::fleet_payment_config(infra)?;
            let (provider, _) = payment::provider(&config)?;
            payment::parked_events(infra.mysql_pool(payment::SCHEMA, CONNECTIONS, &payment::MIGRATOR).await?, provider)
        }
        "analytics" => {
            analytics::parked_events(infra.mysql_pool(analytics::SCHEMA, CONNECTIONS, &analytics::MIGRATOR).await?)
        }
        other => return Err(StartupError::Config(format!("unknown service {other:?}\n{USAGE}"))),
    })
}

const SERVICES: [&str; 4] = ["cart", "order", "payment", "analytics"];

fn refused(error: common::ApiError) -> StartupError {
    StartupError::Config(error.detail)
}

pub async fn command(args: &[String]) -> Result<(), StartupError> {
    let infra = Infra::from_env()?;
    match args {
        [list] if list == "list" => {
            println!("SERVICE\tCONSUMER\tEVENT_ID\tSTREAM\tTYPE\tATTEMPTS\tPARKED_AT\tERROR");
            for service in SERVICES {
                for event in of_service(&infra, service).await?.list().await.map_err(refused)? {
                    let at = gateway::routes::rfc3339(event.parked_at.as_ref()).unwrap_or_default();
                    let error = event.error.replace(['\n', '\t'], " ");
                    println!(
                        "{service}\t{}\t{}\t{}\t{}\t{}\t{at}\t{error}",
                        event.consumer, event.event_id, event.stream, event.event_type, event.attempts
                    );
                }
            }
            Ok(())
        }
        [action, service, consumer, event_id] if action == "replay" || action == "discard" => {
            let events = of_service(&infra, service).await?;
            let key = ParkedKey { consumer: consumer.clone(), event_id: event_id.clone() };
            if action == "replay" {
                let outcome = events.replay(&key).await.map_err(refused)?;
                println!("{service} {consumer} {event_id}: {outcome}");
            } else {
                events.discard(&key).await.map_err(refused)?;
                println!("{service} {consumer} {event_id}: discarded");
            }
            Ok(())
        }
        _ => Err(StartupError::Config(USAGE.to_owned())),
    }
}
