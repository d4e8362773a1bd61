//! `fleet events list|replay|discard`: the console's parked-event page for
//! operators without a browser. It works on the services' own schemas
//! with the services' own replay code (`<service>::parked_events`, the
//! handlers their consumers run), so a replay here is the one the console
//! and the gRPC `ParkedEvents` do.
use common::StartupError;
use common::config::Infra;
use common::events::ParkedEvents;
use proto::events::v1::ParkedKey;

/// What to do with the parked events.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Every parked event of every consuming service.
    List,
    /// Applies a parked event once through its consumer.
    Replay(Key),
    /// Drops a parked event without applying it.
    Discard(Key),
}

/// One parked event.
#[derive(Debug, clap::Args)]
pub struct Key {
    /// The consuming service.
    #[arg(value_parser = SERVICES)]
    service: String,
    /// Its consumer group.
    consumer: String,
    /// The event's id.
    event_id: String,
}

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
        other => return Err(StartupError::Config(format!("unknown service {other:?}"))),
    })
}

const SERVICES: [&str; 4] = ["cart", "order", "payment", "analytics"];

fn refused(error: common::ApiError) -> StartupError {
    StartupError::Config(error.detail)
}

pub async fn command(infra: &Infra, action: Action) -> Result<(), StartupError> {
    match action {
        Action::List => {
            println!("SERVICE\tCONSUMER\tEVENT_ID\tSTREAM\tTYPE\tATTEMPTS\tPARKED_AT\tERROR");
            for service in SERVICES {
                for event in of_service(infra, service).await?.list().await.map_err(refused)? {
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
        Action::Replay(key) => {
            let outcome = of_service(infra, &key.service).await?.replay(&key.parked()).await.map_err(refused)?;
            println!("{} {} {}: {outcome}", key.service, key.consumer, key.event_id);
            Ok(())
        }
        Action::Discard(key) => {
            of_service(infra, &key.service).await?.discard(&key.parked()).await.map_err(refused)?;
            println!("{} {} {}: discarded", key.service, key.consumer, key.event_id);
            Ok(())
        }
    }
}

impl Key {
    fn parked(&self) -> ParkedKey {
        ParkedKey { consumer: self.consumer.clone(), event_id: self.event_id.clone() }
    }
}
