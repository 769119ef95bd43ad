//! Tar-split: rebuild a layer's original tar byte for byte from its
//! extracted directory, so `save` keeps diff IDs (and so image IDs).
//!
//! Why: a layer is stored only as a directory; its diff ID is the sha256 of
//! the tar it came from, and no tar writer reproduces another's bytes. While
//! a layer is extracted, [`Recorder`] keeps every byte of the stream except
//! regular files' contents (headers, PAX records, padding, trailer) in
//! `layers/<hex>/tar-split.gz`, and notes where each file's content goes.
//! [`LayerTar`] replays that, reading contents from the layer directory, and
//! checks the result against the diff ID as it goes.
//!
//! Record format (inside gzip): `R <u64 len> <bytes>` raw stream bytes, or
//! `F <u64 size> <u32 len> <path>` `size` content bytes from `path`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use berth_types::{Error, ErrorKind, Result};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use sha2::{Digest, Sha256};

/// File name of the tar-split beside a layer's `diff/`.
pub(crate) const TAR_SPLIT: &str = "tar-split.gz";

/// Content ranges announced by the extractor: (offset, size, path).
pub(crate) type Ranges = Rc<RefCell<VecDeque<(u64, u64, Vec<u8>)>>>;

/// Wraps the layer stream; writes everything but file contents to `out`.
pub(crate) struct Recorder<R> {
    inner: R,
    pos: u64,
    ranges: Ranges,
    raw: Vec<u8>,
    out: GzEncoder<BufWriter<File>>,
    err: Option<io::Error>,
}

impl<R: Read> Recorder<R> {
    /// Record `inner` into the file `out` (created).
    pub(crate) fn new(inner: R, out: &Path, ranges: Ranges) -> Result<Self> {
        let f = File::create(out)
            .map_err(|e| crate::storage_err(format!("creating {}", out.display()), e))?;
        Ok(Recorder {
            inner,
            pos: 0,
            ranges,
            raw: Vec::new(),
            out: GzEncoder::new(BufWriter::new(f), flate2::Compression::fast()),
            err: None,
        })
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if !self.raw.is_empty() {
            self.out.write_all(b"R")?;
            self.out.write_all(&(self.raw.len() as u64).to_le_bytes())?;
            self.out.write_all(&self.raw)?;
            self.raw.clear();
        }
        Ok(())
    }

    /// Split the chunk at stream offset `self.pos` into raw and content.
    fn record(&mut self, mut chunk: &[u8]) -> io::Result<()> {
        while !chunk.is_empty() {
            let next = self.ranges.borrow().front().cloned();
            match next {
                // An empty file's range has nothing to skip.
                Some((off, size, _)) if off + size <= self.pos => {
                    self.ranges.borrow_mut().pop_front();
                }
                Some((off, size, path)) if self.pos >= off => {
                    if self.pos == off {
                        self.flush_raw()?;
                        self.out.write_all(b"F")?;
                        self.out.write_all(&size.to_le_bytes())?;
                        self.out.write_all(&(path.len() as u32).to_le_bytes())?;
                        self.out.write_all(&path)?;
                    }
                    let left = off + size - self.pos;
                    let n = (left as usize).min(chunk.len());
                    self.pos += n as u64;
                    chunk = &chunk[n..];
                    if self.pos == off + size {
                        self.ranges.borrow_mut().pop_front();
                    }
                }
                Some((off, _, _)) => {
                    let n = ((off - self.pos) as usize).min(chunk.len());
                    self.raw.extend_from_slice(&chunk[..n]);
                    self.pos += n as u64;
                    chunk = &chunk[n..];
                }
                None => {
                    self.raw.extend_from_slice(chunk);
                    self.pos += chunk.len() as u64;
                    chunk = &[];
                }
            }
            if self.raw.len() >= 1 << 20 {
                self.flush_raw()?;
            }
        }
        Ok(())
    }

    /// Write the last records and close the file.
    pub(crate) fn finish(mut self) -> Result<()> {
        let res = (|| {
            if let Some(e) = self.err.take() {
                return Err(e);
            }
            self.flush_raw()?;
            self.out
                .finish()?
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()
        })();
        res.map_err(|e| crate::storage_err("writing tar-split", e))
    }
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.record(&buf[..n]) {
            // Remembered for finish(): failing the read would be reported
            // as a bad layer instead of a local write error.
            self.err.get_or_insert(e);
        }
        Ok(n)
    }
}

/// Replays a layer's tar from its tar-split and directory, verifying the
/// diff ID: a mismatch is an error at the end of the stream.
pub(crate) struct LayerTar {
    split: BufReader<GzDecoder<File>>,
    root: std::os::fd::OwnedFd,
    cur: Option<(Box<dyn Read>, u64)>,
    hasher: Sha256,
    want: String,
    label: String,
    done: bool,
}

fn bad(label: &str, msg: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{label}: {msg}"))
}

impl LayerTar {
    /// Open layer dir `layer` (holding `diff/` and the tar-split) whose
    /// diff ID is `diff_id`.
    pub(crate) fn open(layer: &Path, diff_id: &str) -> Result<LayerTar> {
        let label = format!("layer {}", &diff_id[..diff_id.len().min(19)]);
        let sp = layer.join(TAR_SPLIT);
        let f = File::open(&sp).map_err(|e| {
            Error::new(
                ErrorKind::Storage,
                format!("{label}: no tar-split ({e}); it was stored by an older berth: remove the image and load it again"),
            )
        })?;
        let root = rfs::open(
            layer.join("diff"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| crate::storage_err(format!("{label}: opening"), e))?;
        Ok(LayerTar {
            split: BufReader::new(GzDecoder::new(f)),
            root,
            cur: None,
            hasher: Sha256::new(),
            want: diff_id.to_string(),
            label,
            done: false,
        })
    }

    fn next_record(&mut self) -> io::Result<bool> {
        let mut tag = [0u8; 1];
        match self.split.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        let mut n8 = [0u8; 8];
        self.split.read_exact(&mut n8)?;
        let n = u64::from_le_bytes(n8);
        match tag[0] {
            b'R' => {
                let mut v = vec![0u8; n as usize];
                self.split.read_exact(&mut v)?;
                self.cur = Some((Box::new(io::Cursor::new(v)), n));
            }
            b'F' => {
                let mut l4 = [0u8; 4];
                self.split.read_exact(&mut l4)?;
                let mut p = vec![0u8; u32::from_le_bytes(l4) as usize];
                self.split.read_exact(&mut p)?;
                // Resolved exactly as the extractor did (symlinks inside the
                // layer stay inside it), never following a final symlink.
                let path = if p.is_empty() { b".".to_vec() } else { p };
                let fd = rfs::openat2(
                    &self.root,
                    std::ffi::OsStr::from_bytes(&path),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                    Mode::empty(),
                    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
                )
                .map_err(|e| {
                    bad(
                        &self.label,
                        format!("opening {:?}: {e}", String::from_utf8_lossy(&path)),
                    )
                })?;
                self.cur = Some((Box::new(File::from(fd).take(n)), n));
            }
            t => return Err(bad(&self.label, format!("corrupt tar-split (record {t})"))),
        }
        Ok(true)
    }
}

impl Read for LayerTar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done {
                return Ok(0);
            }
            if let Some((r, left)) = &mut self.cur {
                if *left > 0 {
                    let n = r.read(buf)?;
                    if n == 0 {
                        return Err(bad(
                            &self.label,
                            "a file in the layer is shorter than recorded",
                        ));
                    }
                    *left -= n as u64;
                    self.hasher.update(&buf[..n]);
                    return Ok(n);
                }
                self.cur = None;
            }
            if !self.next_record()? {
                self.done = true;
                let got = format!(
                    "sha256:{}",
                    hex::encode(std::mem::take(&mut self.hasher).finalize())
                );
                if got != self.want {
                    return Err(bad(
                        &self.label,
                        format!("rebuilt tar does not match its diff ID (got {got})"),
                    ));
                }
                return Ok(0);
            }
        }
    }
}
