//! Private enums in a module, the default `TOPOLOGY` static, a marker type used by path.

mod model {
    use kafka_utils::prelude::*;

    #[derive(KafkaTopics)]
    enum Topics {
        #[topic(name = "orders", message = String)]
        Orders,
    }

    #[derive(KafkaUsers)]
    enum Users {
        #[user(name = "shop")]
        Shop,
    }

    permissions! {
        Users::Shop => { Topics::Orders => [Write] },
    }

    pub(super) fn check() {
        fn produce<U: User, T: WritableBy<U>>(_: U, _: T, _: &T::Message) {}
        produce(users::Shop, topics::Orders, &String::from("order"));
        assert_eq!(TOPOLOGY.acl_bindings().len(), 2);
    }
}

fn main() {
    model::check();
}
