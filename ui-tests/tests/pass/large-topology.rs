//! A large topology: 100 topics, 20 users, every user granted on 10 topics. It must
//! compile (and its build time is what the README reports for the derive's cost).
//! Made by a script: 100 `Topic{i}` variants `#[topic(name = "domain{i/10}.events{i}")]`.
// Built as a test target of the workspace (see Cargo.toml), under its lints; the case
// declares its enums as a service would, without Debug.
#![allow(missing_debug_implementations)]

use kafka_utils::prelude::*;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: u64,
}

#[derive(KafkaTopics)]
pub enum Topics {
    #[topic(name = "domain0.events0", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "1d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic0,
    #[topic(name = "domain0.events1", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "2d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic1,
    #[topic(name = "domain0.events2", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "3d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic2,
    #[topic(name = "domain0.events3", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "4d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic3,
    #[topic(name = "domain0.events4", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "5d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic4,
    #[topic(name = "domain0.events5", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "6d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic5,
    #[topic(name = "domain0.events6", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "7d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic6,
    #[topic(name = "domain0.events7", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "8d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic7,
    #[topic(name = "domain0.events8", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "9d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic8,
    #[topic(name = "domain0.events9", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "10d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic9,
    #[topic(name = "domain1.events10", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "11d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic10,
    #[topic(name = "domain1.events11", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "12d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic11,
    #[topic(name = "domain1.events12", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "13d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic12,
    #[topic(name = "domain1.events13", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "14d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic13,
    #[topic(name = "domain1.events14", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "15d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic14,
    #[topic(name = "domain1.events15", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "16d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic15,
    #[topic(name = "domain1.events16", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "17d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic16,
    #[topic(name = "domain1.events17", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "18d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic17,
    #[topic(name = "domain1.events18", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "19d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic18,
    #[topic(name = "domain1.events19", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "20d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic19,
    #[topic(name = "domain2.events20", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "21d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic20,
    #[topic(name = "domain2.events21", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "22d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic21,
    #[topic(name = "domain2.events22", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "23d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic22,
    #[topic(name = "domain2.events23", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "24d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic23,
    #[topic(name = "domain2.events24", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "25d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic24,
    #[topic(name = "domain2.events25", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "26d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic25,
    #[topic(name = "domain2.events26", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "27d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic26,
    #[topic(name = "domain2.events27", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "28d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic27,
    #[topic(name = "domain2.events28", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "29d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic28,
    #[topic(name = "domain2.events29", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "30d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic29,
    #[topic(name = "domain3.events30", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "1d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic30,
    #[topic(name = "domain3.events31", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "2d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic31,
    #[topic(name = "domain3.events32", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "3d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic32,
    #[topic(name = "domain3.events33", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "4d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic33,
    #[topic(name = "domain3.events34", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "5d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic34,
    #[topic(name = "domain3.events35", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "6d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic35,
    #[topic(name = "domain3.events36", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "7d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic36,
    #[topic(name = "domain3.events37", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "8d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic37,
    #[topic(name = "domain3.events38", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "9d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic38,
    #[topic(name = "domain3.events39", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "10d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic39,
    #[topic(name = "domain4.events40", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "11d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic40,
    #[topic(name = "domain4.events41", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "12d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic41,
    #[topic(name = "domain4.events42", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "13d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic42,
    #[topic(name = "domain4.events43", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "14d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic43,
    #[topic(name = "domain4.events44", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "15d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic44,
    #[topic(name = "domain4.events45", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "16d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic45,
    #[topic(name = "domain4.events46", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "17d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic46,
    #[topic(name = "domain4.events47", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "18d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic47,
    #[topic(name = "domain4.events48", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "19d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic48,
    #[topic(name = "domain4.events49", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "20d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic49,
    #[topic(name = "domain5.events50", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "21d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic50,
    #[topic(name = "domain5.events51", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "22d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic51,
    #[topic(name = "domain5.events52", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "23d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic52,
    #[topic(name = "domain5.events53", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "24d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic53,
    #[topic(name = "domain5.events54", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "25d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic54,
    #[topic(name = "domain5.events55", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "26d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic55,
    #[topic(name = "domain5.events56", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "27d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic56,
    #[topic(name = "domain5.events57", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "28d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic57,
    #[topic(name = "domain5.events58", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "29d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic58,
    #[topic(name = "domain5.events59", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "30d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic59,
    #[topic(name = "domain6.events60", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "1d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic60,
    #[topic(name = "domain6.events61", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "2d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic61,
    #[topic(name = "domain6.events62", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "3d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic62,
    #[topic(name = "domain6.events63", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "4d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic63,
    #[topic(name = "domain6.events64", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "5d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic64,
    #[topic(name = "domain6.events65", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "6d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic65,
    #[topic(name = "domain6.events66", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "7d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic66,
    #[topic(name = "domain6.events67", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "8d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic67,
    #[topic(name = "domain6.events68", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "9d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic68,
    #[topic(name = "domain6.events69", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "10d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic69,
    #[topic(name = "domain7.events70", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "11d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic70,
    #[topic(name = "domain7.events71", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "12d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic71,
    #[topic(name = "domain7.events72", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "13d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic72,
    #[topic(name = "domain7.events73", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "14d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic73,
    #[topic(name = "domain7.events74", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "15d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic74,
    #[topic(name = "domain7.events75", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "16d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic75,
    #[topic(name = "domain7.events76", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "17d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic76,
    #[topic(name = "domain7.events77", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "18d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic77,
    #[topic(name = "domain7.events78", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "19d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic78,
    #[topic(name = "domain7.events79", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "20d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic79,
    #[topic(name = "domain8.events80", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "21d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic80,
    #[topic(name = "domain8.events81", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "22d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic81,
    #[topic(name = "domain8.events82", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "23d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic82,
    #[topic(name = "domain8.events83", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "24d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic83,
    #[topic(name = "domain8.events84", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "25d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic84,
    #[topic(name = "domain8.events85", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "26d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic85,
    #[topic(name = "domain8.events86", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "27d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic86,
    #[topic(name = "domain8.events87", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "28d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic87,
    #[topic(name = "domain8.events88", message = Event, key = u64, partitions = 5,
            replication_factor = 3, config(retention = "29d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic88,
    #[topic(name = "domain8.events89", message = Event, key = u64, partitions = 6,
            replication_factor = 3, config(retention = "30d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic89,
    #[topic(name = "domain9.events90", message = Event, key = u64, partitions = 7,
            replication_factor = 3, config(retention = "1d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic90,
    #[topic(name = "domain9.events91", message = Event, key = u64, partitions = 8,
            replication_factor = 3, config(retention = "2d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic91,
    #[topic(name = "domain9.events92", message = Event, key = u64, partitions = 9,
            replication_factor = 3, config(retention = "3d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic92,
    #[topic(name = "domain9.events93", message = Event, key = u64, partitions = 10,
            replication_factor = 3, config(retention = "4d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic93,
    #[topic(name = "domain9.events94", message = Event, key = u64, partitions = 11,
            replication_factor = 3, config(retention = "5d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic94,
    #[topic(name = "domain9.events95", message = Event, key = u64, partitions = 12,
            replication_factor = 3, config(retention = "6d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic95,
    #[topic(name = "domain9.events96", message = Event, key = u64, partitions = 1,
            replication_factor = 3, config(retention = "7d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic96,
    #[topic(name = "domain9.events97", message = Event, key = u64, partitions = 2,
            replication_factor = 3, config(retention = "8d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic97,
    #[topic(name = "domain9.events98", message = Event, key = u64, partitions = 3,
            replication_factor = 3, config(retention = "9d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic98,
    #[topic(name = "domain9.events99", message = Event, key = u64, partitions = 4,
            replication_factor = 3, config(retention = "10d", min_insync_replicas = 2, cleanup_policy = "delete"))]
    Topic99,
}

#[derive(KafkaUsers)]
pub enum Users {
    #[user(name = "service-0", groups = ["service-0-group"])]
    User0,
    #[user(name = "service-1", groups = ["service-1-group"])]
    User1,
    #[user(name = "service-2", groups = ["service-2-group"])]
    User2,
    #[user(name = "service-3", groups = ["service-3-group"])]
    User3,
    #[user(name = "service-4", groups = ["service-4-group"])]
    User4,
    #[user(name = "service-5", groups = ["service-5-group"])]
    User5,
    #[user(name = "service-6", groups = ["service-6-group"])]
    User6,
    #[user(name = "service-7", groups = ["service-7-group"])]
    User7,
    #[user(name = "service-8", groups = ["service-8-group"])]
    User8,
    #[user(name = "service-9", groups = ["service-9-group"])]
    User9,
    #[user(name = "service-10", groups = ["service-10-group"])]
    User10,
    #[user(name = "service-11", groups = ["service-11-group"])]
    User11,
    #[user(name = "service-12", groups = ["service-12-group"])]
    User12,
    #[user(name = "service-13", groups = ["service-13-group"])]
    User13,
    #[user(name = "service-14", groups = ["service-14-group"])]
    User14,
    #[user(name = "service-15", groups = ["service-15-group"])]
    User15,
    #[user(name = "service-16", groups = ["service-16-group"])]
    User16,
    #[user(name = "service-17", groups = ["service-17-group"])]
    User17,
    #[user(name = "service-18", groups = ["service-18-group"])]
    User18,
    #[user(name = "service-19", groups = ["service-19-group"])]
    User19,
}

permissions! {
    Users::User0 => { Topics::Topic0 => [Read, Write, AutoCommitOffset], Topics::Topic1 => [Write], Topics::Topic2 => [Read, Write, AutoCommitOffset], Topics::Topic3 => [Write], Topics::Topic4 => [Read, Write, AutoCommitOffset], Topics::Topic5 => [Write], Topics::Topic6 => [Read, Write, AutoCommitOffset], Topics::Topic7 => [Write], Topics::Topic8 => [Read, Write, AutoCommitOffset], Topics::Topic9 => [Write] },
    Users::User1 => { Topics::Topic5 => [Read, Write, AutoCommitOffset], Topics::Topic6 => [Write], Topics::Topic7 => [Read, Write, AutoCommitOffset], Topics::Topic8 => [Write], Topics::Topic9 => [Read, Write, AutoCommitOffset], Topics::Topic10 => [Write], Topics::Topic11 => [Read, Write, AutoCommitOffset], Topics::Topic12 => [Write], Topics::Topic13 => [Read, Write, AutoCommitOffset], Topics::Topic14 => [Write] },
    Users::User2 => { Topics::Topic10 => [Read, Write, AutoCommitOffset], Topics::Topic11 => [Write], Topics::Topic12 => [Read, Write, AutoCommitOffset], Topics::Topic13 => [Write], Topics::Topic14 => [Read, Write, AutoCommitOffset], Topics::Topic15 => [Write], Topics::Topic16 => [Read, Write, AutoCommitOffset], Topics::Topic17 => [Write], Topics::Topic18 => [Read, Write, AutoCommitOffset], Topics::Topic19 => [Write] },
    Users::User3 => { Topics::Topic15 => [Read, Write, AutoCommitOffset], Topics::Topic16 => [Write], Topics::Topic17 => [Read, Write, AutoCommitOffset], Topics::Topic18 => [Write], Topics::Topic19 => [Read, Write, AutoCommitOffset], Topics::Topic20 => [Write], Topics::Topic21 => [Read, Write, AutoCommitOffset], Topics::Topic22 => [Write], Topics::Topic23 => [Read, Write, AutoCommitOffset], Topics::Topic24 => [Write] },
    Users::User4 => { Topics::Topic20 => [Read, Write, AutoCommitOffset], Topics::Topic21 => [Write], Topics::Topic22 => [Read, Write, AutoCommitOffset], Topics::Topic23 => [Write], Topics::Topic24 => [Read, Write, AutoCommitOffset], Topics::Topic25 => [Write], Topics::Topic26 => [Read, Write, AutoCommitOffset], Topics::Topic27 => [Write], Topics::Topic28 => [Read, Write, AutoCommitOffset], Topics::Topic29 => [Write] },
    Users::User5 => { Topics::Topic25 => [Read, Write, AutoCommitOffset], Topics::Topic26 => [Write], Topics::Topic27 => [Read, Write, AutoCommitOffset], Topics::Topic28 => [Write], Topics::Topic29 => [Read, Write, AutoCommitOffset], Topics::Topic30 => [Write], Topics::Topic31 => [Read, Write, AutoCommitOffset], Topics::Topic32 => [Write], Topics::Topic33 => [Read, Write, AutoCommitOffset], Topics::Topic34 => [Write] },
    Users::User6 => { Topics::Topic30 => [Read, Write, AutoCommitOffset], Topics::Topic31 => [Write], Topics::Topic32 => [Read, Write, AutoCommitOffset], Topics::Topic33 => [Write], Topics::Topic34 => [Read, Write, AutoCommitOffset], Topics::Topic35 => [Write], Topics::Topic36 => [Read, Write, AutoCommitOffset], Topics::Topic37 => [Write], Topics::Topic38 => [Read, Write, AutoCommitOffset], Topics::Topic39 => [Write] },
    Users::User7 => { Topics::Topic35 => [Read, Write, AutoCommitOffset], Topics::Topic36 => [Write], Topics::Topic37 => [Read, Write, AutoCommitOffset], Topics::Topic38 => [Write], Topics::Topic39 => [Read, Write, AutoCommitOffset], Topics::Topic40 => [Write], Topics::Topic41 => [Read, Write, AutoCommitOffset], Topics::Topic42 => [Write], Topics::Topic43 => [Read, Write, AutoCommitOffset], Topics::Topic44 => [Write] },
    Users::User8 => { Topics::Topic40 => [Read, Write, AutoCommitOffset], Topics::Topic41 => [Write], Topics::Topic42 => [Read, Write, AutoCommitOffset], Topics::Topic43 => [Write], Topics::Topic44 => [Read, Write, AutoCommitOffset], Topics::Topic45 => [Write], Topics::Topic46 => [Read, Write, AutoCommitOffset], Topics::Topic47 => [Write], Topics::Topic48 => [Read, Write, AutoCommitOffset], Topics::Topic49 => [Write] },
    Users::User9 => { Topics::Topic45 => [Read, Write, AutoCommitOffset], Topics::Topic46 => [Write], Topics::Topic47 => [Read, Write, AutoCommitOffset], Topics::Topic48 => [Write], Topics::Topic49 => [Read, Write, AutoCommitOffset], Topics::Topic50 => [Write], Topics::Topic51 => [Read, Write, AutoCommitOffset], Topics::Topic52 => [Write], Topics::Topic53 => [Read, Write, AutoCommitOffset], Topics::Topic54 => [Write] },
    Users::User10 => { Topics::Topic50 => [Read, Write, AutoCommitOffset], Topics::Topic51 => [Write], Topics::Topic52 => [Read, Write, AutoCommitOffset], Topics::Topic53 => [Write], Topics::Topic54 => [Read, Write, AutoCommitOffset], Topics::Topic55 => [Write], Topics::Topic56 => [Read, Write, AutoCommitOffset], Topics::Topic57 => [Write], Topics::Topic58 => [Read, Write, AutoCommitOffset], Topics::Topic59 => [Write] },
    Users::User11 => { Topics::Topic55 => [Read, Write, AutoCommitOffset], Topics::Topic56 => [Write], Topics::Topic57 => [Read, Write, AutoCommitOffset], Topics::Topic58 => [Write], Topics::Topic59 => [Read, Write, AutoCommitOffset], Topics::Topic60 => [Write], Topics::Topic61 => [Read, Write, AutoCommitOffset], Topics::Topic62 => [Write], Topics::Topic63 => [Read, Write, AutoCommitOffset], Topics::Topic64 => [Write] },
    Users::User12 => { Topics::Topic60 => [Read, Write, AutoCommitOffset], Topics::Topic61 => [Write], Topics::Topic62 => [Read, Write, AutoCommitOffset], Topics::Topic63 => [Write], Topics::Topic64 => [Read, Write, AutoCommitOffset], Topics::Topic65 => [Write], Topics::Topic66 => [Read, Write, AutoCommitOffset], Topics::Topic67 => [Write], Topics::Topic68 => [Read, Write, AutoCommitOffset], Topics::Topic69 => [Write] },
    Users::User13 => { Topics::Topic65 => [Read, Write, AutoCommitOffset], Topics::Topic66 => [Write], Topics::Topic67 => [Read, Write, AutoCommitOffset], Topics::Topic68 => [Write], Topics::Topic69 => [Read, Write, AutoCommitOffset], Topics::Topic70 => [Write], Topics::Topic71 => [Read, Write, AutoCommitOffset], Topics::Topic72 => [Write], Topics::Topic73 => [Read, Write, AutoCommitOffset], Topics::Topic74 => [Write] },
    Users::User14 => { Topics::Topic70 => [Read, Write, AutoCommitOffset], Topics::Topic71 => [Write], Topics::Topic72 => [Read, Write, AutoCommitOffset], Topics::Topic73 => [Write], Topics::Topic74 => [Read, Write, AutoCommitOffset], Topics::Topic75 => [Write], Topics::Topic76 => [Read, Write, AutoCommitOffset], Topics::Topic77 => [Write], Topics::Topic78 => [Read, Write, AutoCommitOffset], Topics::Topic79 => [Write] },
    Users::User15 => { Topics::Topic75 => [Read, Write, AutoCommitOffset], Topics::Topic76 => [Write], Topics::Topic77 => [Read, Write, AutoCommitOffset], Topics::Topic78 => [Write], Topics::Topic79 => [Read, Write, AutoCommitOffset], Topics::Topic80 => [Write], Topics::Topic81 => [Read, Write, AutoCommitOffset], Topics::Topic82 => [Write], Topics::Topic83 => [Read, Write, AutoCommitOffset], Topics::Topic84 => [Write] },
    Users::User16 => { Topics::Topic80 => [Read, Write, AutoCommitOffset], Topics::Topic81 => [Write], Topics::Topic82 => [Read, Write, AutoCommitOffset], Topics::Topic83 => [Write], Topics::Topic84 => [Read, Write, AutoCommitOffset], Topics::Topic85 => [Write], Topics::Topic86 => [Read, Write, AutoCommitOffset], Topics::Topic87 => [Write], Topics::Topic88 => [Read, Write, AutoCommitOffset], Topics::Topic89 => [Write] },
    Users::User17 => { Topics::Topic85 => [Read, Write, AutoCommitOffset], Topics::Topic86 => [Write], Topics::Topic87 => [Read, Write, AutoCommitOffset], Topics::Topic88 => [Write], Topics::Topic89 => [Read, Write, AutoCommitOffset], Topics::Topic90 => [Write], Topics::Topic91 => [Read, Write, AutoCommitOffset], Topics::Topic92 => [Write], Topics::Topic93 => [Read, Write, AutoCommitOffset], Topics::Topic94 => [Write] },
    Users::User18 => { Topics::Topic90 => [Read, Write, AutoCommitOffset], Topics::Topic91 => [Write], Topics::Topic92 => [Read, Write, AutoCommitOffset], Topics::Topic93 => [Write], Topics::Topic94 => [Read, Write, AutoCommitOffset], Topics::Topic95 => [Write], Topics::Topic96 => [Read, Write, AutoCommitOffset], Topics::Topic97 => [Write], Topics::Topic98 => [Read, Write, AutoCommitOffset], Topics::Topic99 => [Write] },
    Users::User19 => { Topics::Topic95 => [Read, Write, AutoCommitOffset], Topics::Topic96 => [Write], Topics::Topic97 => [Read, Write, AutoCommitOffset], Topics::Topic98 => [Write], Topics::Topic99 => [Read, Write, AutoCommitOffset], Topics::Topic0 => [Write], Topics::Topic1 => [Read, Write, AutoCommitOffset], Topics::Topic2 => [Write], Topics::Topic3 => [Read, Write, AutoCommitOffset], Topics::Topic4 => [Write] },
}

fn main() {
    assert_eq!(Topics::ALL.len(), 100);
    assert_eq!(Users::ALL.len(), 20);
    assert_eq!(TOPOLOGY.grants.len(), 200);
    assert_eq!(Topics::Topic42.name(), "domain4.events42");
    // Per user: 10 topics x (READ, WRITE, DESCRIBE or WRITE, DESCRIBE) and its group READ, DESCRIBE.
    assert_eq!(TOPOLOGY.acl_bindings().len(), 20 * (5 * 3 + 5 * 2 + 2));
}
