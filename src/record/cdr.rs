//! CDR (XCDR1, "plain CDR") as ROS 2 middlewares put it on the wire and rosbag2 stores it.
//!
//! Layout: a 4-byte encapsulation header (`00 01 00 00` little endian, `00 00 00 00` big
//! endian; the last two bytes are options), then the fields in declaration order. A primitive of
//! size n is aligned to n bytes *relative to the end of the header* (the payload start), with zero
//! padding. Strings are a `u32` length that counts the terminating NUL, the bytes, then the NUL.
//! Sequences (`T[]`, `T[<=N]`) are a `u32` element count then the elements; fixed arrays (`T[N]`)
//! have no count. Nested messages have no alignment of their own: their first field aligns.
//!
//! Why our own codec and not a crate: the maintained serde-based choice (`cdr-encoding` 0.11, by
//! the RustDDS authors; `cdr` 0.2.4 from hrektts is the older one it replaced) gets this layout
//! right, but decodes only through serde derives into owned values and reports errors without a
//! byte offset. Here we want (1) field-by-field access to types we have no struct for (the
//! reader keeps unknown types raw and tests read `test_msgs` payloads with [`CdrReader`]),
//! (2) borrowed reads (`read_str`, `read_byte_seq`) and buffer reuse (`read_f64_seq_into`,
//! [`CdrWriter`] over a caller's `Vec`), (3) errors that say where the payload broke, and
//! (4) hard limits so a corrupt length can never trigger a huge allocation (fuzzed in
//! tests/replay_fuzz.rs). The codec is ~300 lines; tests/record_interop.rs checks it message by
//! message against `rosbags` and `mcap-ros2-support`.

use std::fmt;

/// Size of the encapsulation header in front of every CDR payload.
const HEADER_LEN: usize = 4;

/// Byte order of a CDR payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// Little endian (`CDR_LE`, what every ROS 2 machine on x86/ARM writes).
    Little,
    /// Big endian (`CDR_BE`).
    Big,
}

/// A CDR decoding error, with the byte offset in the payload (after the header) where it occurred.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CdrError {
    /// Offset from the payload start (just after the 4-byte header).
    pub offset: usize,
    /// What went wrong.
    pub kind: CdrErrorKind,
}

/// What went wrong while decoding CDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CdrErrorKind {
    /// The data is shorter than the 4-byte encapsulation header.
    NoHeader,
    /// The encapsulation kind is not plain CDR (XCDR1); e.g. XCDR2 or parameter lists.
    UnsupportedEncapsulation(u8, u8),
    /// The data ended in the middle of a value.
    Truncated {
        /// Bytes the value needed.
        needed: usize,
    },
    /// A sequence or string length larger than the remaining data could hold.
    BadLength(u32),
    /// A string that is not UTF-8.
    BadUtf8,
}

impl fmt::Display for CdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CdrErrorKind::NoHeader => {
                write!(f, "CDR: fewer than 4 bytes (no encapsulation header)")
            }
            CdrErrorKind::UnsupportedEncapsulation(a, b) => write!(
                f,
                "CDR: unsupported encapsulation {a:#04x} {b:#04x} (only plain CDR / XCDR1 LE or BE)"
            ),
            CdrErrorKind::Truncated { needed } => write!(
                f,
                "CDR: data ends at payload offset {} but the next value needs {needed} bytes",
                self.offset
            ),
            CdrErrorKind::BadLength(n) => write!(
                f,
                "CDR: length {n} at payload offset {} exceeds the remaining data",
                self.offset
            ),
            CdrErrorKind::BadUtf8 => {
                write!(
                    f,
                    "CDR: string at payload offset {} is not UTF-8",
                    self.offset
                )
            }
        }
    }
}

/// Reads CDR values from a borrowed payload.
#[derive(Clone, Debug)]
pub struct CdrReader<'a> {
    buf: &'a [u8],
    pos: usize,
    endian: Endian,
}

macro_rules! read_prim {
    ($(#[$m:meta])* $name:ident, $t:ty) => {
        $(#[$m])*
        pub fn $name(&mut self) -> Result<$t, CdrError> {
            const N: usize = std::mem::size_of::<$t>();
            let b = self.take_aligned::<N>()?;
            Ok(match self.endian {
                Endian::Little => <$t>::from_le_bytes(b),
                Endian::Big => <$t>::from_be_bytes(b),
            })
        }
    };
}

impl<'a> CdrReader<'a> {
    /// Starts reading `data` (header + payload); fails if the header is missing or not XCDR1.
    pub fn new(data: &'a [u8]) -> Result<CdrReader<'a>, CdrError> {
        if data.len() < HEADER_LEN {
            return Err(CdrError {
                offset: 0,
                kind: CdrErrorKind::NoHeader,
            });
        }
        let endian = match (data[0], data[1]) {
            (0x00, 0x01) => Endian::Little,
            (0x00, 0x00) => Endian::Big,
            (a, b) => {
                return Err(CdrError {
                    offset: 0,
                    kind: CdrErrorKind::UnsupportedEncapsulation(a, b),
                })
            }
        };
        Ok(CdrReader {
            buf: &data[HEADER_LEN..],
            pos: 0,
            endian,
        })
    }

    /// Byte order of the payload.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Current offset from the payload start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn err(&self, kind: CdrErrorKind) -> CdrError {
        CdrError {
            offset: self.pos,
            kind,
        }
    }

    /// Skips padding so that the position is a multiple of `n` (1, 2, 4 or 8).
    #[inline]
    pub fn align(&mut self, n: usize) {
        let rem = self.pos % n;
        if rem != 0 {
            self.pos += n - rem;
        }
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(CdrErrorKind::Truncated { needed: n })),
        }
    }

    #[inline]
    fn take_aligned<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N);
        let s = self.take(N)?;
        let mut b = [0u8; N];
        b.copy_from_slice(s);
        Ok(b)
    }

    read_prim!(/// Reads a `uint8` / `byte` / `char`.
        read_u8, u8);
    read_prim!(/// Reads an `int8`.
        read_i8, i8);
    read_prim!(/// Reads a `uint16`.
        read_u16, u16);
    read_prim!(/// Reads an `int16`.
        read_i16, i16);
    read_prim!(/// Reads a `uint32`.
        read_u32, u32);
    read_prim!(/// Reads an `int32`.
        read_i32, i32);
    read_prim!(/// Reads a `uint64`.
        read_u64, u64);
    read_prim!(/// Reads an `int64`.
        read_i64, i64);
    read_prim!(/// Reads a `float32`.
        read_f32, f32);
    read_prim!(/// Reads a `float64`.
        read_f64, f64);

    /// Reads a `bool` (one byte; any non-zero value is true).
    pub fn read_bool(&mut self) -> Result<bool, CdrError> {
        Ok(self.read_u8()? != 0)
    }

    /// Reads a sequence length and checks that `len * min_elem_size` bytes can still follow,
    /// so corrupt lengths never cause huge allocations.
    pub fn read_seq_len(&mut self, min_elem_size: usize) -> Result<usize, CdrError> {
        let n = self.read_u32()?;
        let need = (n as usize).saturating_mul(min_elem_size.max(1));
        if need > self.remaining() && !(min_elem_size == 0 && n == 0) {
            return Err(CdrError {
                offset: self.pos - 4,
                kind: CdrErrorKind::BadLength(n),
            });
        }
        Ok(n as usize)
    }

    /// Reads a `string` as a borrowed `&str` (without the NUL terminator).
    fn read_str(&mut self) -> Result<&'a str, CdrError> {
        let start = self.pos;
        let n = self.read_u32()? as usize;
        if n > self.remaining() {
            return Err(CdrError {
                offset: start,
                kind: CdrErrorKind::BadLength(n as u32),
            });
        }
        let bytes = self.take(n)?;
        // The length counts the NUL; tolerate writers that omit it (length 0 or no NUL).
        let bytes = match bytes.split_last() {
            Some((0, rest)) => rest,
            _ => bytes,
        };
        std::str::from_utf8(bytes).map_err(|_| CdrError {
            offset: start,
            kind: CdrErrorKind::BadUtf8,
        })
    }

    /// Reads a `string` into a new `String`.
    pub fn read_string(&mut self) -> Result<String, CdrError> {
        self.read_str().map(str::to_owned)
    }

    /// Reads a `uint8[]` sequence as a borrowed slice.
    pub fn read_byte_seq(&mut self) -> Result<&'a [u8], CdrError> {
        let n = self.read_seq_len(1)?;
        self.take(n)
    }

    /// Reads a `float64[]` sequence, replacing the contents of `out`.
    fn read_f64_seq_into(&mut self, out: &mut Vec<f64>) -> Result<(), CdrError> {
        out.clear();
        let n = self.read_seq_len(8)?;
        out.reserve(n);
        for _ in 0..n {
            out.push(self.read_f64()?);
        }
        Ok(())
    }

    /// Reads a `float64[]` sequence into a new vector.
    pub fn read_f64_seq(&mut self) -> Result<Vec<f64>, CdrError> {
        let mut v = Vec::new();
        self.read_f64_seq_into(&mut v)?;
        Ok(v)
    }

    /// Reads a `float64[N]` fixed array.
    pub fn read_f64_array<const N: usize>(&mut self) -> Result<[f64; N], CdrError> {
        let mut a = [0.0; N];
        for x in &mut a {
            *x = self.read_f64()?;
        }
        Ok(a)
    }

    /// Reads a `string[]` sequence.
    pub fn read_string_seq(&mut self) -> Result<Vec<String>, CdrError> {
        // Each string takes at least its 4-byte length.
        let n = self.read_seq_len(4)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.read_string()?);
        }
        Ok(v)
    }
}

/// Writes CDR values into a caller-owned buffer (reused between messages: no allocation once
/// the buffer has grown to the largest message).
#[derive(Debug)]
pub struct CdrWriter<'b> {
    buf: &'b mut Vec<u8>,
    endian: Endian,
}

macro_rules! write_prim {
    ($(#[$m:meta])* $name:ident, $t:ty) => {
        $(#[$m])*
        pub fn $name(&mut self, v: $t) {
            const N: usize = std::mem::size_of::<$t>();
            self.align(N);
            match self.endian {
                Endian::Little => self.buf.extend_from_slice(&v.to_le_bytes()),
                Endian::Big => self.buf.extend_from_slice(&v.to_be_bytes()),
            }
        }
    };
}

impl<'b> CdrWriter<'b> {
    /// Clears `buf` and writes the encapsulation header for `endian`.
    pub fn new(buf: &'b mut Vec<u8>, endian: Endian) -> CdrWriter<'b> {
        buf.clear();
        buf.extend_from_slice(match endian {
            Endian::Little => &[0x00, 0x01, 0x00, 0x00],
            Endian::Big => &[0x00, 0x00, 0x00, 0x00],
        });
        CdrWriter { buf, endian }
    }

    /// Pads with zeros so the payload offset is a multiple of `n`.
    #[inline]
    pub fn align(&mut self, n: usize) {
        let pos = self.buf.len() - HEADER_LEN;
        let rem = pos % n;
        if rem != 0 {
            self.buf.resize(self.buf.len() + n - rem, 0);
        }
    }

    write_prim!(/// Writes a `uint8` / `byte` / `char`.
        write_u8, u8);
    write_prim!(/// Writes an `int8`.
        write_i8, i8);
    write_prim!(/// Writes a `uint16`.
        write_u16, u16);
    write_prim!(/// Writes an `int16`.
        write_i16, i16);
    write_prim!(/// Writes a `uint32`.
        write_u32, u32);
    write_prim!(/// Writes an `int32`.
        write_i32, i32);
    write_prim!(/// Writes a `uint64`.
        write_u64, u64);
    write_prim!(/// Writes an `int64`.
        write_i64, i64);
    write_prim!(/// Writes a `float32`.
        write_f32, f32);
    write_prim!(/// Writes a `float64`.
        write_f64, f64);

    /// Writes a `bool` as one byte.
    pub fn write_bool(&mut self, v: bool) {
        self.write_u8(v as u8);
    }

    /// Writes a sequence length. Panics never; lengths above `u32::MAX` are saturated (a ROS 2
    /// message that large cannot be sent anyway).
    pub fn write_len(&mut self, n: usize) {
        self.write_u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Writes a `string` (length including NUL, bytes, NUL).
    pub fn write_str(&mut self, s: &str) {
        self.write_len(s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Writes a `uint8[]` sequence.
    pub fn write_byte_seq(&mut self, b: &[u8]) {
        self.write_len(b.len());
        self.buf.extend_from_slice(b);
    }

    /// Writes a `float64[]` sequence.
    pub fn write_f64_seq(&mut self, v: &[f64]) {
        self.write_len(v.len());
        for &x in v {
            self.write_f64(x);
        }
    }

    /// Writes a `float64[N]` fixed array.
    pub fn write_f64_array(&mut self, v: &[f64]) {
        for &x in v {
            self.write_f64(x);
        }
    }

    /// Writes a `string[]` sequence.
    pub fn write_string_seq(&mut self, v: &[String]) {
        self.write_len(v.len());
        for s in v {
            self.write_str(s);
        }
    }

    /// Bytes written so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing but the header was written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= HEADER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_relative_to_payload_start() {
        let mut buf = Vec::new();
        let mut w = CdrWriter::new(&mut buf, Endian::Little);
        w.write_u8(1);
        w.write_f64(2.0);
        w.write_u16(3);
        w.write_u32(4);
        // u8 at 0, pad to 8, f64 at 8..16, u16 at 16..18, pad to 20, u32 at 20..24
        assert_eq!(buf.len(), 4 + 24);
        assert_eq!(&buf[..5], &[0, 1, 0, 0, 1]);
        assert_eq!(&buf[4 + 8..4 + 16], &2.0f64.to_le_bytes());
        let mut r = CdrReader::new(&buf).unwrap();
        assert_eq!(r.read_u8().unwrap(), 1);
        assert_eq!(r.read_f64().unwrap(), 2.0);
        assert_eq!(r.read_u16().unwrap(), 3);
        assert_eq!(r.read_u32().unwrap(), 4);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn big_endian_round_trip_and_known_bytes() {
        let mut buf = Vec::new();
        let mut w = CdrWriter::new(&mut buf, Endian::Big);
        w.write_str("ab");
        w.write_i32(-2);
        assert_eq!(
            buf,
            [0, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', 0, 0, 0xff, 0xff, 0xff, 0xfe]
        );
        let mut r = CdrReader::new(&buf).unwrap();
        assert_eq!(r.endian(), Endian::Big);
        assert_eq!(r.read_str().unwrap(), "ab");
        assert_eq!(r.read_i32().unwrap(), -2);
    }

    #[test]
    fn errors_name_the_offset() {
        let data = [0u8, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f];
        let mut r = CdrReader::new(&data).unwrap();
        let e = r.read_f64_seq().unwrap_err();
        assert_eq!(e.kind, CdrErrorKind::BadLength(0x7fff_ffff));
        assert_eq!(e.offset, 0);
        let e = CdrReader::new(&[0, 7, 0, 0]).unwrap_err();
        assert_eq!(e.kind, CdrErrorKind::UnsupportedEncapsulation(0, 7));
        assert_eq!(
            CdrReader::new(&[0, 1]).unwrap_err().kind,
            CdrErrorKind::NoHeader
        );
        let mut r = CdrReader::new(&[0, 1, 0, 0, 1, 2]).unwrap();
        let e = r.read_u32().unwrap_err();
        assert_eq!(e.kind, CdrErrorKind::Truncated { needed: 4 });
    }
}
