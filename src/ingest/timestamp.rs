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
    let b = s.trim().as_bytes();
    iso_micros(b).or_else(|| scan(b))
}

/// [`parse_timestamp`] of a cell's bytes: the fixed layout needs no UTF-8 check first.
pub fn parse_timestamp_bytes(b: &[u8]) -> Option<i64> {
    iso_micros(b).or_else(|| std::str::from_utf8(b).ok().and_then(parse_timestamp))
}

/// `2017-07-06 18:33:31.417420`, the layout of every row of the corrected release, read at
/// fixed positions: a million rows spent half their timestamp time in the general scan's
/// per-digit-group calls.
fn iso_micros(b: &[u8]) -> Option<i64> {
    let b: &[u8; 26] = b.try_into().ok()?;
    let separators = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':'), (19, b'.')];
    if separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |digits: &[u8]| {
        digits.iter().try_fold(0i64, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0')))
    };
    civil_micros(
        (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?),
        (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?),
        num(&b[20..26])?,
    )
}

/// Any of the layouts, scanned field by field.
fn scan(b: &[u8]) -> Option<i64> {
    let mut c = Scanner { b, i: 0 };
    let first = c.digits(4)?;
    let (y, m, d) = match c.next()? {
        b'-' => {
            let m = c.digits(2)?;
            c.expect(b'-')?;
            (first, m, c.digits(2)?)
        }
        b'/' => {
            let m = c.digits(2)?;
            c.expect(b'/')?;
            (c.digits(4)?, m, first)
        }
        _ => return None,
    };
    c.expect(b' ')?;
    let mut hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    let (mut sec, mut micros) = (0, 0);
    if c.peek() == Some(b':') {
        c.i += 1;
        sec = c.digits(2)?;
        if c.peek() == Some(b'.') {
            c.i += 1;
            // The first six digits are microseconds; shorter fractions are padded with zeros.
            let start = c.i;
            let frac = c.digits(9)?;
            let n = (c.i - start) as u32;
            micros = if n >= 6 { frac / 10i64.pow(n - 6) } else { frac * 10i64.pow(6 - n) };
        }
    }
    while c.peek() == Some(b' ') {
        c.i += 1;
    }
    match c.rest().to_ascii_uppercase().as_slice() {
        b"" => {}
        b"PM" if hour < 12 => hour += 12,
        b"AM" if hour == 12 => hour = 0,
        b"AM" | b"PM" => {}
        _ => return None,
    }
    civil_micros((y, m, d), (hour, minute, sec), micros)
}

/// A checked date and time of day as microseconds since the epoch.
fn civil_micros((y, m, d): (i64, i64, i64), (hour, minute, sec): (i64, i64, i64), micros: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hour > 23 || minute > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + sec * 1_000_000 + micros)
}

/// A cursor over the bytes of a timestamp.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn rest(&self) -> &[u8] {
        &self.b[self.i.min(self.b.len())..]
    }
    /// 1 to `max` decimal digits.
    fn digits(&mut self, max: usize) -> Option<i64> {
        let start = self.i;
        let mut v = 0i64;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start == max {
                return None;
            }
            v = v * 10 + i64::from(d - b'0');
            self.i += 1;
        }
        (self.i > start).then_some(v)
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
    let mut out = String::with_capacity(26);
    write_timestamp(&mut out, us);
    out
}

/// [`format_timestamp`] appended to `out` (a table of millions of times reuses one buffer).
pub fn write_timestamp(out: &mut String, us: i64) {
    use std::fmt::Write as _;
    let days = us.div_euclid(86_400_000_000);
    let rem = us.rem_euclid(86_400_000_000);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        rem % 1_000_000
    );
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
