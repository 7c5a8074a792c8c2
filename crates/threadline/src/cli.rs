//! The command line. `main` parses it and hands over to [`crate::run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "threadline",
    version,
    about = "Serial-number and lot traceability server",
    propagate_version = true
)]
pub struct Cli {
    /// TOML configuration file (also THREADLINE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Default, Clone)]
pub struct DbArgs {
    /// Database URL: `sqlite:PATH` (default `sqlite:./threadline.db`) or `postgres://…`
    /// (also THREADLINE_DB).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and web UI.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on (default 127.0.0.1:8080; also THREADLINE_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Load the demo plant into an empty database.
        #[arg(long)]
        demo: bool,
        /// Password of the first `admin` user, when the database has no users
        /// (also THREADLINE_ADMIN_PASSWORD or THREADLINE_ADMIN_PASSWORD_FILE). Without it a
        /// one-time password is generated and printed once.
        #[arg(long, value_name = "PASSWORD")]
        admin_password: Option<String>,
    },
    /// Walk the ledger's hash chain; exit 1 and name the first broken entry if any.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Recompute every projection (current state, genealogy, indexes) from the ledger.
    Rebuild {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Copy a SQLite database, even while a server writes to it, into a new FILE: one
    /// consistent snapshot. For PostgreSQL use pg_dump (see README).
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The file to write; it must not exist.
        #[arg(value_name = "FILE")]
        to: PathBuf,
    },
    /// Put a backup in place of the SQLite database, after checking its ledger and audit
    /// chains (a broken backup restores nothing). Stop the server first.
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file.
        #[arg(value_name = "FILE")]
        from: PathBuf,
        /// Replace a database that exists.
        #[arg(long)]
        force: bool,
    },
    /// Serial numbers: allocate blocks from a product's rule, check a serial against it.
    Serial {
        #[command(subcommand)]
        what: SerialCommand,
    },
    /// Trace a unit or lot backward (what went into it) or forward (what it reached); forward
    /// also from a supplier, a work order, a line or a production window.
    Trace {
        #[command(flatten)]
        db: DbArgs,
        /// `backward` or `forward`.
        #[arg(value_parser = ["backward", "forward"])]
        direction: String,
        /// The product of --serial or --lot.
        #[arg(long)]
        product: Option<String>,
        /// Start from this unit (with --product).
        #[arg(long, conflicts_with = "lot")]
        serial: Option<String>,
        /// Start from this lot (with --product).
        #[arg(long)]
        lot: Option<String>,
        /// Forward from everything received from this supplier (party code).
        #[arg(long, conflicts_with_all = ["serial", "lot", "work_order", "line"])]
        supplier: Option<String>,
        /// Forward from everything made under this work order.
        #[arg(long, conflicts_with_all = ["serial", "lot", "line"])]
        work_order: Option<String>,
        /// Forward from everything made on this line (location code).
        #[arg(long, conflicts_with_all = ["serial", "lot"])]
        line: Option<String>,
        /// With --line: a daily shift such as 08:00-16:00, on the events' own clock.
        #[arg(long, requires = "line")]
        shift: Option<String>,
        /// Window start (RFC 3339) for --supplier or --line; alone with --to, a production
        /// window.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Window end (RFC 3339, exclusive).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Trace as of this time (RFC 3339); now if absent.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
        /// Print CSV (one row per unit or lot) instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Import products, parties, locations, serials (legacy or supplier, with their origin,
    /// status and location), lots (a quantity at a location) or historical events from a CSV
    /// or XLSX file (columns by English or
    /// Chinese header; see `GET /api/v1/imports/{kind}/template`). Every row is checked and
    /// every bad one named by its spreadsheet row; nothing is kept without --commit, and with it
    /// all rows or none. Into the database (--db) or through a running server (--server).
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// `products`, `parties`, `locations`, `serials`, `lots` or `events`.
        #[arg(value_parser = ["products", "parties", "locations", "serials", "lots", "events"])]
        kind: String,
        /// The file: `.csv` (UTF-8) or `.xlsx` (its first sheet).
        file: PathBuf,
        /// Keep the rows (all or none). Without it this is a dry run.
        #[arg(long)]
        commit: bool,
        /// Send the file to the server at this URL (`http://host:8080`) instead of opening the
        /// database; needs --token (also THREADLINE_SERVER).
        #[arg(
            long,
            value_name = "URL",
            env = "THREADLINE_SERVER",
            conflicts_with = "db"
        )]
        server: Option<String>,
        /// The API token for --server, with the `configure` permission (also THREADLINE_TOKEN).
        #[arg(
            long,
            value_name = "SECRET",
            env = "THREADLINE_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
    },
    /// Manage API tokens for machines (ERP, MES, scanners, PLC gateways).
    Token {
        #[command(subcommand)]
        what: TokenCommand,
    },
    /// Measure performance figures (see docs/BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret on standard output. The secret is shown this once;
    /// only its SHA-256 digest is stored.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The token's name, unique forever; events it records name `token:<NAME>`.
        #[arg(long)]
        name: String,
        /// A role the token holds (repeat for several): admin, warehouse, production, qc,
        /// sales, service, quality, auditor, distributor, or a custom role defined on
        /// /admin/roles.
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// The site (location code) the token acts for: it records events only there and reads only that site's units, lots and events.
        #[arg(long, value_name = "LOCATION")]
        site: Option<String>,
        /// The distributor (party code) a `distributor` token acts for: it sees only what
        /// was shipped to that party or to the parties under it.
        #[arg(long, value_name = "PARTY")]
        party: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Render labels for COUNT serials into one PDF (A4 sheets), streamed to a file.
    Labels {
        /// How many labels.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Where the PDF goes (default: discarded after counting its bytes).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Batch capture through HTTP, against a raw SQLite insert of the same rows.
    Capture {
        /// Database: `sqlite` (a fresh temporary file per run, the default) or a URL of an
        /// empty PostgreSQL database.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// Events per run.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Events per request.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Concurrent clients, each on its own connection, sending the requests between them
        /// (several lines or ERP jobs capturing at once).
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Repetitions (min/median/max are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Allocate SERIALS serials from a stored rule in blocks (a fresh database per run).
    Allocate {
        /// Database: `sqlite` (a fresh temporary file per run, the default) or a URL of an
        /// empty PostgreSQL database (one run).
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        serials: u64,
        /// Serials per allocation request.
        #[arg(long, default_value_t = 100_000)]
        block: u64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Bulk import of a serial list: writes a CSV of ROWS legacy units and imports it as
    /// `threadline import serials FILE --commit` does; rows/s and peak memory.
    Import {
        /// Database: `sqlite` (a fresh temporary file per run, the default) or a PostgreSQL
        /// URL (a fresh schema on it per run, dropped after).
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// A small run (10,000 rows, once) to see that it works.
        #[arg(long)]
        quick: bool,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// EPCIS capture of whole documents through HTTP: events/s and latency per document.
    Epcis {
        /// Database: `sqlite` (a fresh temporary file, the default) or a URL of an empty
        /// PostgreSQL database.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// Documents to capture.
        #[arg(long, default_value_t = 40)]
        documents: usize,
        /// Events per document.
        #[arg(long, default_value_t = 500)]
        events: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// A forward trace from one material lot to UNITS finished units through three levels,
    /// and its CSV (and XLSX) export through HTTP; the data is generated deterministically.
    Trace {
        /// Database: `sqlite` (a fresh temporary file, the default), `sqlite:PATH` (a file,
        /// kept), or a URL of a PostgreSQL database; one an earlier run loaded is measured
        /// again without loading.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// Finished units the lot reaches (the trace has twice as many nodes, plus ten lots).
        #[arg(long, default_value_t = 100_000)]
        units: usize,
        /// Repetitions of each timed step (min/median/max are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also measure the XLSX export.
        #[arg(long)]
        xlsx: bool,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Generate a realistic plant into an empty database, deterministically from a seed,
    /// through the normal capture path in large batches; writes a manifest (counts and sample
    /// units) for `bench passport`. Into PostgreSQL, the operations are planned on a scratch
    /// SQLite file in TMPDIR (as large as the plant: ≈ 1.7 GB per million events) and every
    /// batch is captured into both.
    Gen {
        /// Database: `sqlite:PATH` or a URL of an empty PostgreSQL database.
        #[arg(long, value_name = "URL")]
        db: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Events to generate (the last work order is finished, so a few more).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
        /// Finished units per work order.
        #[arg(long, default_value_t = 200)]
        wo_size: usize,
        /// Work orders one resin lot covers (500 × 200 = 100,000 finished units).
        #[arg(long, default_value_t = 500)]
        resin_span: usize,
        /// Events per capture.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
        /// The CI size: about 3,000 events (overrides --events, --wo-size, --resin-span).
        #[arg(long)]
        quick: bool,
        /// Where the manifest goes (default: beside the SQLite file, `PATH.manifest.json`).
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// Passport, backward and forward trace through HTTP on a generated plant: starts
    /// `threadline serve` on it and `bench load` as a separate process, reads the server's
    /// peak RSS.
    Passport {
        /// The database `bench gen` wrote.
        #[arg(long, value_name = "URL")]
        db: String,
        /// Its manifest (default: beside the SQLite file).
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds of each passport run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Backward traces per run.
        #[arg(long, default_value_t = 500)]
        traces: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// The load generator of `bench passport`, against a running server.
    Load {
        /// The server, `http://127.0.0.1:PORT`.
        #[arg(long)]
        url: String,
        /// An API token that may read (also THREADLINE_TOKEN).
        #[arg(long, env = "THREADLINE_TOKEN", hide_env_values = true)]
        token: String,
        /// The manifest `bench gen` wrote.
        #[arg(long, value_name = "FILE")]
        manifest: PathBuf,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, default_value_t = 500)]
        traces: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

#[derive(Debug, Subcommand)]
pub enum SerialCommand {
    /// Allocate a block of serials from the product's rule and print them, one per line.
    Allocate {
        #[command(flatten)]
        db: DbArgs,
        /// Product code.
        #[arg(long)]
        product: String,
        #[arg(long)]
        count: u64,
        /// Line code, for rules with {LINE}.
        #[arg(long)]
        line: Option<String>,
        /// Site code, for rules with {SITE}.
        #[arg(long)]
        site: Option<String>,
        /// The printer or packer the block is handed to.
        #[arg(long)]
        printer: Option<String>,
    },
    /// Serial rules kept as master data: create, list, show, assign to a product or category.
    Rule {
        #[command(subcommand)]
        what: RuleCommand,
    },
    /// Check a serial against the product's rule and print its parts.
    Validate {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        product: String,
        serial: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Create a rule from a JSON file (`-` reads standard input), in the shape
    /// `POST /api/v1/serial-rules` takes: code, name, template, time_zone, sequence_reset,
    /// sequence_start, uniqueness, alphabets, categories.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the stored rules, one per line: code, version, template, categories.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print one rule as JSON, with its version.
    Show {
        #[command(flatten)]
        db: DbArgs,
        code: String,
    },
    /// Assign a rule to a product (a new version of the product) or to a product category
    /// (a new version of the rule).
    Assign {
        #[command(flatten)]
        db: DbArgs,
        code: String,
        #[arg(
            long,
            required_unless_present = "category",
            conflicts_with = "category"
        )]
        product: Option<String>,
        #[arg(long)]
        category: Option<String>,
    },
}
