//! Random container names (`adjective_surname`) for containers created
//! without `--name`, like Podman's and Docker's.

const ADJECTIVES: [&str; 24] = [
    "admiring",
    "bold",
    "brave",
    "clever",
    "dreamy",
    "eager",
    "elegant",
    "festive",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "tender",
    "vibrant",
    "zealous",
];
const SURNAMES: [&str; 24] = [
    "agnesi", "babbage", "bohr", "curie", "darwin", "euler", "fermi", "galois", "hopper",
    "hypatia", "kepler", "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon", "tesla",
    "thompson", "turing", "wozniak", "yalow", "zuse", "knuth",
];

/// A fresh random name. Collisions are caught by the store's unique name
/// constraint; the caller retries.
pub fn random_name() -> String {
    let mut b = [0u8; 2];
    getrandom::fill(&mut b).expect("the kernel's random source is available");
    format!(
        "{}_{}",
        ADJECTIVES[b[0] as usize % ADJECTIVES.len()],
        SURNAMES[b[1] as usize % SURNAMES.len()]
    )
}

/// A new 64-hex container ID from 32 random bytes.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the kernel's random source is available");
    hex::encode(b)
}
