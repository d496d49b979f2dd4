//! The sections of an ELF file, read without a library: what a test
//! binary's coverage mapping is stored in.

use super::*;

pub(super) enum ElfError {
    Io(std::io::Error),
    Format(String),
}

/// The contents of the named sections of a 64-bit little-endian ELF file
/// (`None` where absent), read without loading the whole binary.
pub(super) fn elf_sections(path: &Path, names: &[&str]) -> Result<Vec<Option<Vec<u8>>>, ElfError> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(ElfError::Io)?;
    let file_len = file.metadata().map_err(ElfError::Io)?.len();
    let read = |off: u64, len: usize| -> Result<Vec<u8>, ElfError> {
        // Sizes come from the file itself: none may reach past its end
        // (found by fuzzing: a huge size was a huge allocation).
        if off.checked_add(len as u64).is_none_or(|end| end > file_len) {
            return Err(ElfError::Format(
                "an ELF section reaches past the end of the file".into(),
            ));
        }
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, off).map_err(ElfError::Io)?;
        Ok(buf)
    };
    let head = read(0, 64)?;
    if &head[..4] != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
        return Err(ElfError::Format("not a 64-bit little-endian ELF binary".into()));
    }
    let bad = || ElfError::Format("malformed ELF section table".into());
    let shoff = u64_at(&head, 0x28).ok_or_else(bad)?;
    let shentsize = u16_at(&head, 0x3a).ok_or_else(bad)? as usize;
    let shnum = u16_at(&head, 0x3c).ok_or_else(bad)? as usize;
    let shstrndx = u16_at(&head, 0x3e).ok_or_else(bad)? as usize;
    if shentsize < 64 || shnum == 0 || shstrndx >= shnum {
        return Err(bad());
    }
    let table = read(shoff, shentsize * shnum)?;
    let header = |i: usize| -> Option<(u32, u64, u64)> {
        let h = &table[i * shentsize..];
        Some((u32_at(h, 0)?, u64_at(h, 24)?, u64_at(h, 32)?))
    };
    let (_, str_off, str_size) = header(shstrndx).ok_or_else(bad)?;
    let strings = read(str_off, str_size as usize)?;
    let mut out = vec![None; names.len()];
    for i in 0..shnum {
        let (name_off, off, size) = header(i).ok_or_else(bad)?;
        let name = strings
            .get(name_off as usize..)
            .and_then(|s| s.split(|&b| b == 0).next())
            .unwrap_or_default();
        if let Some(k) = names.iter().position(|n| n.as_bytes() == name) {
            out[k] = Some(read(off, size as usize)?);
        }
    }
    Ok(out)
}
