//! The small vocabulary product and category names are made of; `list-varied`
//! searches for the same words so searches hit seeded products.
pub const WORDS: &[&str] = &[
    "amber", "anchor", "basket", "bamboo", "candle", "canvas", "cedar", "copper", "cotton", "crystal", "denim",
    "ember", "falcon", "garden", "granite", "harbor", "indigo", "jasmine", "kettle", "lantern", "linen", "maple",
    "marble", "meadow", "nomad", "olive", "orchid", "pebble", "pepper", "quartz", "river", "saddle", "silver",
    "spruce", "summit", "timber", "velvet", "walnut", "willow", "zephyr",
];
