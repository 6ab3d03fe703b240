use kafka_utils::prelude::*;

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "orders", message = String, key = u64)]
    Orders,
    #[topic(name = "refunds", message = u64)]
    Refunds,
}

#[derive(KafkaUsers)]
pub enum Users {
    #[user(name = "shop", groups = ["shop-group"])]
    Shop,
    #[user(name = "auditor")]
    Auditor,
}

permissions! {
    Users::Shop => {
        Topics::Orders => [Read, Write, AutoCommitOffset],
        Topics::Refunds => [Write],
    },
    Users::Auditor => { Topics::Orders => [Read] },
}

fn produce<U: User, T: WritableBy<U>>(_user: U, _topic: T, _message: &T::Message) {}
fn consume<U: User, T: ReadableBy<U>>(_user: U, _topic: T) -> Option<T::Message> {
    None
}
fn commit<U: User, T: CommittableBy<U>>(_user: U, _topic: T) {}

fn main() {
    produce(users::Shop, topics::Refunds, &"not a number".to_string());
}
