//! Cells of a CICFlowMeter line: where a field ends, numbers (plain decimals computed here,
//! the rest by fast-float), addresses, text, and the metadata columns. Shared by the CSV
//! parser and the JSON flow records.

use std::net::{IpAddr, Ipv4Addr};

use super::{Cell, LineIssue, MetaColumn};
use crate::ingest::table::FlowMeta;
use crate::ingest::timestamp::parse_timestamp_bytes;

/// The index of the first comma at or after `start`, or the line's end. Most fields cut this
/// way are short: the first eight bytes are tested at once (commas become zero bytes, and
/// the lowest zero byte is found exactly), the rest by memchr.
#[inline]
pub(super) fn field_end(line: &[u8], start: usize) -> usize {
    let after = |from: usize| memchr::memchr(b',', &line[from..]).map_or(line.len(), |p| from + p);
    let Some(word) = line.get(start..).and_then(|rest| rest.first_chunk::<8>()) else {
        return after(start);
    };
    let x = u64::from_le_bytes(*word) ^ 0x2C2C_2C2C_2C2C_2C2C;
    let zero = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080;
    if zero == 0 {
        return after(start + 8);
    }
    start + (zero.trailing_zeros() / 8) as usize
}

/// Exact powers of ten in f32 (10^0 ..= 10^10) and f64 (10^0 ..= 10^22).
pub(super) const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
pub(super) const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];
/// 10^-0 ..= 10^-19, each the f64 nearest to it.
pub(super) const POW10_NEG_F64: [f64; 20] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17,
    1e-18, 1e-19,
];

/// Parses the numeric field that starts at `start`; returns its value and the index of the
/// comma (or line end) after it. Plain decimals are computed here; exponents, NaN, Infinity
/// and anything else go to fast-float.
#[inline]
pub(super) fn numeric_field(line: &[u8], start: usize, col: usize) -> Result<(Cell, usize), LineIssue> {
    if let Some((v, negative, end)) = plain_decimal(line, start) {
        return Ok((if negative { Cell::Other(Some(-v)) } else { Cell::Plain(v) }, end));
    }
    let end = field_end(line, start);
    Ok((Cell::Other(number(trim(&line[start..end]), col)?), end))
}

/// A field of at most 19 digits with an optional leading minus and at most one decimal
/// point, ending at a comma or the line end: its magnitude, whether it had the minus, and
/// the index of its end; `None` for anything else.
#[inline]
pub(super) fn plain_decimal(line: &[u8], start: usize) -> Option<(f32, bool, usize)> {
    let negative = line.get(start) == Some(&b'-');
    let mut i = start + usize::from(negative);
    let (mut mantissa, digits) = digit_run(line, &mut i, 0);
    let mut fraction = 0;
    if line.get(i) == Some(&b'.') {
        i += 1;
        (mantissa, fraction) = digit_run(line, &mut i, mantissa);
    }
    let at_end = line.get(i).is_none_or(|&b| b == b',');
    if !at_end || digits + fraction == 0 || digits + fraction > 19 {
        return None;
    }
    Some((decimal_f32(mantissa, fraction)?, negative, i))
}

/// `mantissa / 10^fraction` as f32 (`mantissa` below 10^19), or `None` where only a full
/// parser rounds it right. Integers (most cells) are rounded once.
///
/// A decimal is multiplied by the f64 nearest 10^-fraction rather than divided (a division
/// is among the slowest instructions, and was an eighth of the parse). The product is within
/// 3 f64 ulps of the true quotient, and so is every value the exact paths below round to f32
/// (the quotient itself, or its nearest f64). Unless the product lies within 8 ulps of a
/// midpoint between two f32 values, all of them round to the same f32; only there are the
/// exact paths taken.
#[inline]
pub(super) fn decimal_f32(mantissa: u64, fraction: usize) -> Option<f32> {
    if fraction == 0 {
        return Some(mantissa as f32);
    }
    let product = mantissa as f64 * *POW10_NEG_F64.get(fraction)?;
    if !near_f32_midpoint(product) {
        return Some(product as f32);
    }
    if mantissa < (1 << 24) && fraction < POW10.len() {
        // Clinger's fast path: one correctly rounded division of exact values.
        return Some(mantissa as f32 / POW10[fraction]);
    }
    let q = mantissa as f64 / POW10_F64[fraction];
    if mantissa < (1 << 53) {
        // CICFlowMeter prints rates and means with up to 17 significant digits. Exact in
        // f64 (one correctly rounded division), then rounded to f32: at most one f32 ulp
        // from the correctly rounded value in rare halfway cases, far below the
        // resolution any feature needs.
        return Some(q as f32);
    }
    // A quarter of those 17-digit values exceed 2^53: the mantissa is rounded to f64, so `q`
    // may be about two f64 ulps from the true quotient. Rounding it to f32 still gives the
    // correctly rounded value (what fast-float gives) unless `q` lies that close to a
    // midpoint between two f32 values; those rare cases go to fast-float.
    (!near_f32_midpoint(q)).then_some(q as f32)
}

/// Whether `q` (a normal f32-range value) is within 8 f64 ulps of a midpoint between two
/// f32 values: f64 keeps 29 more mantissa bits than f32, and a midpoint has them 1000...0.
pub(super) fn near_f32_midpoint(q: f64) -> bool {
    const DROPPED: u64 = (1 << 29) - 1;
    (q.to_bits() & DROPPED).abs_diff(1 << 28) <= 8
}

/// Appends the run of ASCII digits at `*i` to `acc` and moves `*i` past it; returns the new
/// `acc` (wrapped past 19 digits, which the caller rejects) and the number of digits. One
/// byte at a time: on these short cells that measured faster than eight-byte (SWAR) steps.
#[inline]
pub(super) fn digit_run(line: &[u8], i: &mut usize, mut acc: u64) -> (u64, usize) {
    let begin = *i;
    while let Some(d) = line.get(*i).filter(|b| b.is_ascii_digit()) {
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        *i += 1;
    }
    (acc, *i - begin)
}

/// The text cells of a row, kept as read until the row's other cells are in: the label is
/// interned, the flow ID compared with the 5-tuple (see `FlowMeta::set_flow_id`).
#[derive(Default)]
pub(super) struct RowTexts<'l> {
    pub label: Option<&'l [u8]>,
    pub flow_id: Option<&'l [u8]>,
}

pub(super) fn apply_meta<'l>(
    m: MetaColumn,
    field: &'l [u8],
    col: usize,
    meta: &mut FlowMeta,
    texts: &mut RowTexts<'l>,
) -> Result<(), LineIssue> {
    match m {
        MetaColumn::FlowId => texts.flow_id = Some(field),
        MetaColumn::SrcIp => meta.set_src_ip(parse_ip(field)),
        MetaColumn::DstIp => meta.set_dst_ip(parse_ip(field)),
        MetaColumn::Timestamp => meta.set_timestamp_us(parse_timestamp_bytes(field)),
        MetaColumn::SrcPort => meta.src_port = number(field, col)?.and_then(to_u16),
        MetaColumn::DstPort => meta.dst_port = number(field, col)?.and_then(to_u16),
        MetaColumn::Protocol => meta.protocol = number(field, col)?.and_then(to_u16).and_then(|p| u8::try_from(p).ok()),
        MetaColumn::Label => texts.label = Some(field),
    }
    Ok(())
}

/// An address cell. A dotted quad (every address of these files) is read from the bytes;
/// anything else goes through the UTF-8 check and the standard parser, as before.
pub(super) fn parse_ip(field: &[u8]) -> Option<IpAddr> {
    ipv4(field).map(IpAddr::V4).or_else(|| std::str::from_utf8(field).ok()?.parse().ok())
}

/// Four octets of 1 to 3 digits, at most 255, without leading zeros: exactly the dotted
/// quads the standard parser accepts (checked on 20 million random strings).
pub(super) fn ipv4(field: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut k, mut value, mut digits) = (0, 0u16, 0);
    for &b in field {
        if b.is_ascii_digit() {
            if digits == 3 || (digits == 1 && value == 0) {
                return None;
            }
            value = value * 10 + u16::from(b - b'0');
            digits += 1;
        } else if b == b'.' && digits > 0 && k < 3 {
            octets[k] = u8::try_from(value).ok()?;
            (k, value, digits) = (k + 1, 0, 0);
        } else {
            return None;
        }
    }
    if k != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

pub(super) fn trim(mut field: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = field {
        if first.is_ascii_whitespace() || *first == b'"' { field = rest } else { break }
    }
    while let [rest @ .., last] = field {
        if last.is_ascii_whitespace() || *last == b'"' { field = rest } else { break }
    }
    field
}

/// A numeric cell: `None` when empty, an issue when it is text.
#[inline]
pub(super) fn number(field: &[u8], column: usize) -> Result<Option<f32>, LineIssue> {
    if field.is_empty() {
        return Ok(None);
    }
    // Most CICFlowMeter cells are small integers: parse those directly.
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, field),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        let v = n as f32;
        return Ok(Some(if negative { -v } else { v }));
    }
    fast_float2::parse::<f32, _>(field)
        .map(Some)
        .map_err(|_| LineIssue::NotNumeric { column, value: String::from_utf8_lossy(field).chars().take(60).collect() })
}

pub(super) fn to_u16(v: f32) -> Option<u16> {
    (v >= 0.0 && v <= u16::MAX as f32 && v.fract() == 0.0).then_some(v as u16)
}
