//! Generated gRPC code for every marketplace service, one module per
//! `marketplace.<service>.v1` package, plus the encoded descriptor set that
//! each server registers for reflection.

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("marketplace.identity.v1");
    }
}

pub mod catalog {
    pub mod v1 {
        tonic::include_proto!("marketplace.catalog.v1");
    }
}

pub mod order {
    pub mod v1 {
        tonic::include_proto!("marketplace.order.v1");
    }
}

pub mod cart {
    pub mod v1 {
        tonic::include_proto!("marketplace.cart.v1");
    }
}

pub mod payment {
    pub mod v1 {
        tonic::include_proto!("marketplace.payment.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("marketplace.events.v1");
    }
}

pub mod analytics {
    pub mod v1 {
        tonic::include_proto!("marketplace.analytics.v1");
    }
}

/// Every marketplace proto, encoded, for `grpc.reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("marketplace_descriptor");
