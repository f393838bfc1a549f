//! Timestamps as the CICFlowMeter dialects write them.
//!
//! Hand-written rather than chrono's `parse_from_str`: there are four fixed layouts and a
//! million-row file has a million timestamps; a direct digit scan is several times faster
//! than format-string parsing, and the layouts differ in ways (day-first dates, optional
//! seconds and AM/PM) a single format string cannot cover.
//!
//! - `2017-07-06 18:33:31.417420` (corrected 2021 release)
//! - `7/7/2017 3:30` (2017 TrafficLabelling: day/month/year, no seconds)
//! - `31/03/2015 08:32:22` (official tool)
//! - `05/07/2017 07:46:12 PM` (official tool, 12-hour clock)

/// Microseconds since 1970-01-01 00:00 of the written (zone-less) time, or `None`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(' ')?;
    let (y, m, d) = if date.contains('-') {
        let mut it = date.split('-');
        (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?)
    } else {
        let mut it = date.split('/');
        let (d, m, y) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
        (y, m, d)
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (clock, meridiem) = match time.trim().split_once(' ') {
        Some((c, ampm)) => (c, Some(ampm.trim().to_ascii_uppercase())),
        None => (time.trim(), None),
    };
    let mut parts = clock.split(':');
    let mut hour = num(parts.next()?)?;
    let minute = num(parts.next()?)?;
    let (sec, micros) = match parts.next() {
        Some(sec) => seconds(sec)?,
        None => (0, 0),
    };
    match meridiem.as_deref() {
        Some("PM") if hour < 12 => hour += 12,
        Some("AM") if hour == 12 => hour = 0,
        Some("AM" | "PM") | None => {}
        Some(_) => return None,
    }
    if hour > 23 || minute > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + sec * 1_000_000 + micros)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// `SS` or `SS.ffffff` to whole seconds and microseconds.
fn seconds(s: &str) -> Option<(i64, i64)> {
    match s.split_once('.') {
        None => Some((num(s)?, 0)),
        Some((whole, frac)) => {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // The first six digits are microseconds; shorter fractions are padded with zeros.
            let micros = frac.bytes().chain(std::iter::repeat(b'0')).take(6).fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
            Some((num(whole)?, micros))
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn format_timestamp(us: i64) -> String {
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rem % 1_000_000
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
