//! The thresholds of host-level detection, each with where it comes from and why it is used.
//!
//! They are the defaults of long-used, openly documented detectors (Zeek's policy scripts,
//! Snort's threshold configuration) rather than values tuned on our own data: tuned values
//! would only describe the few captures at hand. Windows slide (every flow closes one),
//! where Zeek's SumStats epochs are fixed; a sliding window finds every burst a fixed epoch
//! finds, and also those that straddle an epoch boundary.

/// Microseconds in a minute.
const MINUTE_US: i64 = 60 * 1_000_000;

/// Vertical scan: failed connection attempts from one source to this many distinct ports of
/// one destination. Zeek `policy/misc/scan.zeek`, `Scan::port_scan_threshold` = 15: few
/// legitimate clients try 15 different services of one host and fail at each.
pub const PORT_SCAN_PORTS: usize = 15;
/// ... within this window: Zeek `Scan::port_scan_interval` = 5 min.
pub const PORT_SCAN_WINDOW_US: i64 = 5 * MINUTE_US;

/// Horizontal scan: failed connection attempts from one source to one port of this many
/// distinct destinations. Zeek `Scan::addr_scan_threshold` = 25: a client talks to a handful
/// of servers of one service, a worm or a sweep to hundreds.
pub const ADDR_SCAN_HOSTS: usize = 25;
/// ... within this window: Zeek `Scan::addr_scan_interval` = 5 min.
pub const ADDR_SCAN_WINDOW_US: i64 = 5 * MINUTE_US;

/// Flood by rate: this many failed connection attempts towards one destination service ...
/// Snort's `threshold.conf` example `rate_filter gen_id 135, sig_id 1, count 100, seconds 1`
/// ("a maximum of 100 connection attempts per second"): the rate Snort's own documentation
/// treats as the line past which connection attempts are dropped as a flood.
pub const FLOOD_RATE_FLOWS: usize = 100;
/// ... within one second (the same example).
pub const FLOOD_RATE_WINDOW_US: i64 = 1_000_000;

/// Flood by sources: failed connection attempts towards one destination service from this
/// many distinct sources. No standard detector sets this; it mirrors Zeek's address-scan
/// threshold (25 distinct peers in 5 minutes) from the receiving side, because a spoofed or
/// distributed flood shows the same spread of peers that a sweep shows from its source.
pub const FLOOD_SOURCES: usize = 25;
/// ... within this window (Zeek's 5 minutes, as above).
pub const FLOOD_SOURCES_WINDOW_US: i64 = 5 * MINUTE_US;

/// SQL injection: Zeek's `SQL_Injection_Attacker` notice fires when one host sends this many
/// requests tagged `URI_SQLI` ... (`policy/protocols/http/detect-sqli.zeek`,
/// `HTTP::sqli_requests_threshold` = 50). A finding is made from the first tagged request:
/// Zeek tags every such request in http.log, as an IDS signature alerts on one; the rule text
/// says whether the notice's count is reached, which a short sqlmap run (44 tagged requests
/// in our captures) is not.
pub const SQLI_NOTICE_REQUESTS: u32 = 50;
/// ... within this window (`HTTP::sqli_requests_interval` = 5 min); tagged flows of one
/// source to one service within it of each other are one finding.
pub const SQLI_WINDOW_US: i64 = 5 * MINUTE_US;

/// Scanner User-Agent: one request whose User-Agent names a security scanner makes a finding,
/// as OWASP CRS rule 913100 acts on each such request (severity critical). Requests of one
/// tool from one source to one service within this window of each other are one finding;
/// no standard sets it, and it takes Zeek's 5 minutes of the SQL injection interval.
pub const SCANNER_WINDOW_US: i64 = 5 * MINUTE_US;

/// Web scan: at least this many 4xx answers to one source from one web service ...
/// OSSEC/Wazuh `web_rules.xml` rule 31151 ("Multiple web server 400 error codes from same
/// source ip", group `web_scan`): frequency 14 in Wazuh's ruleset (OSSEC's original has 12).
/// A user who follows a stale link gets one; a scanner probing for pages, backups and
/// admin paths gets hundreds.
pub const WEB_SCAN_CLIENT_ERRORS: u32 = 14;
/// ... within this window (rule 31151's `timeframe` = 90 s).
pub const WEB_SCAN_WINDOW_US: i64 = 90 * 1_000_000;

/// A login exchange whose server side sent at most this many payload bytes is counted as a
/// failed guess. Zeek (Bro 2.0-2.3) `SSH::authentication_data_size` = 5500: "the size in bytes
/// at which the SSH connection is presumed to be successful". A successful login goes on to
/// carry a session; a rejected guess ends after the handshake and the refusal.
pub const FAILED_LOGIN_MAX_REPLY_BYTES: f32 = 5500.0;

/// A service whose logins are guessed, with its brute-force threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginService {
    pub name: &'static str,
    pub port: u16,
    /// Failed-looking logins from one source to one server ...
    pub attempts: usize,
    /// ... within this window.
    pub window_us: i64,
    /// Where the two numbers come from.
    pub origin: &'static str,
}

/// Brute force is looked for only on login services: "many short connections to one port"
/// is also what every web browser does, so the port says what a connection is for. SSH and
/// FTP take Zeek's own values; telnet and RDP, for which Zeek ships no policy, take SSH's
/// (the more patient of the two), since they too offer one password prompt per connection.
pub static LOGIN_SERVICES: [LoginService; 4] = [
    LoginService {
        name: "ssh",
        port: 22,
        attempts: 30,
        window_us: 30 * MINUTE_US,
        origin: "Zeek protocols/ssh/detect-bruteforcing: SSH::password_guesses_limit 30, guessing_timeout 30 min",
    },
    LoginService {
        name: "ftp",
        port: 21,
        attempts: 20,
        window_us: 15 * MINUTE_US,
        origin: "Zeek protocols/ftp/detect-bruteforcing: FTP::bruteforce_threshold 20, bruteforce_measurement_interval 15 min",
    },
    LoginService {
        name: "telnet",
        port: 23,
        attempts: 30,
        window_us: 30 * MINUTE_US,
        origin: "Zeek's SSH values (Zeek has no telnet policy)",
    },
    LoginService {
        name: "rdp",
        port: 3389,
        attempts: 30,
        window_us: 30 * MINUTE_US,
        origin: "Zeek's SSH values (Zeek has no RDP policy)",
    },
];

/// The login service on `port`, if it is one.
pub fn login_service(port: u16) -> Option<&'static LoginService> {
    LOGIN_SERVICES.iter().find(|s| s.port == port)
}
