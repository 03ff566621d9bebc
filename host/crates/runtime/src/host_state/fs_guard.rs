//! Files a guest opens in its granted directories: regular files and directories only, never
//! more at once than its budget, never a wait without end.
//!
//! wasmtime-wasi opens whatever the path names. A FIFO planted in a granted directory blocks
//! `open(2)` until a writer appears; with file operations run on the calling thread (see
//! `Runtime::instantiate`) that pins a runtime worker past every deadline, and SIGTERM cannot end
//! it. A device node reads forever. And each open descriptor is a process file descriptor: 6,000
//! of them starved every other connector's sockets. So `open-at` is re-defined here (the linker
//! shadows wasmtime-wasi's definition): the path is opened with `O_NONBLOCK` (which makes opening
//! a FIFO return at once), inside the directory's sandbox via cap-primitives (the same path
//! resolution wasmtime-wasi uses), then `fstat`ed; anything but a regular file or a directory is
//! closed and refused. Each descriptor takes an open-file slot of the instance's budget (and of
//! the process-wide share, see `budget`), given back by the redefined resource destructor.
//!
//! `read-directory` reads a whole listing into host memory at once: its size is charged to the
//! host-memory budget while the listing's handle lives.

use std::collections::HashMap;
use std::path::Path;

use cap_primitives::fs::{FollowSymlinks, OpenOptions, OpenOptionsExt as _};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::filesystem::{Descriptor, Dir, File, OpenMode, WasiFilesystemView as _};
use wasmtime_wasi::p2::ReaddirIterator;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self as wit, DescriptorFlags, ErrorCode, OpenFlags, PathFlags,
};

use super::HostState;
use inlet_policy::budget::{Charge, Slot};

/// The `wasi:filesystem/types` instance wasmtime-wasi 48 defines (guests importing any 0.2.x
/// version are matched to it by semver).
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Rough in-memory cost of one listed entry beyond its name (the `DirectoryEntry` and its
/// `String`).
const PER_ENTRY: u64 = 48;

/// What one instance holds open, by resource handle.
#[derive(Default)]
pub(crate) struct FilesHeld {
    descriptors: HashMap<u32, Slot>,
    listings: HashMap<u32, Charge>,
}

/// Shadows `open-at`, `read-directory` and the destructors of `descriptor` and
/// `directory-entry-stream`. Must run after `wasmtime_wasi::p2::add_to_linker_async`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    super::shadowing(linker, define)
}

fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut inst = linker.instance(TYPES)?;

    inst.resource(
        "descriptor",
        ResourceType::host::<Descriptor>(),
        |mut cx: StoreContextMut<'_, HostState>, rep| {
            let s = cx.data_mut();
            s.table.delete(Resource::<Descriptor>::new_own(rep))?;
            // Closed above: the slot goes back.
            s.files.descriptors.remove(&rep);
            Ok(())
        },
    )?;

    inst.resource(
        "directory-entry-stream",
        ResourceType::host::<ReaddirIterator>(),
        |mut cx: StoreContextMut<'_, HostState>, rep| {
            let s = cx.data_mut();
            s.table.delete(Resource::<ReaddirIterator>::new_own(rep))?;
            s.files.listings.remove(&rep);
            Ok(())
        },
    )?;

    inst.func_wrap_async(
        "[method]descriptor.open-at",
        |mut cx: StoreContextMut<'_, HostState>,
         (fd, path_flags, path, oflags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let opened = open_at(cx.data_mut(), fd, path_flags, path, oflags, flags);
                match opened {
                    Ok(r) => Ok((Ok(r),)),
                    Err(Refusal::Code(code)) => Ok((Err(code),)),
                    Err(Refusal::Trap(e)) => Err(e),
                }
            })
        },
    )?;

    inst.func_wrap_async(
        "[method]descriptor.read-directory",
        |mut cx: StoreContextMut<'_, HostState>, (fd,): (Resource<Descriptor>,)| {
            Box::new(async move {
                let s = cx.data_mut();
                let dir = match s.table.get(&fd)? {
                    Descriptor::Dir(d) => d.dir.clone(),
                    Descriptor::File(_) => return Ok((Err(ErrorCode::NotDirectory),)),
                };
                let size = listing_size(&dir);
                let charge = s.budget.charge(size, "a directory listing")?;
                let listed = wit::HostDescriptor::read_directory(&mut s.filesystem(), fd).await;
                match listed {
                    Ok(stream) => {
                        s.files.listings.insert(stream.rep(), charge);
                        Ok((Ok(stream),))
                    }
                    Err(e) => Ok((Err(wit::Host::convert_error_code(&mut s.filesystem(), e)?),)),
                }
            })
        },
    )?;
    Ok(())
}

/// Why `open-at` did not open: an error for the guest, or a budget trap that ends the sync.
enum Refusal {
    Code(ErrorCode),
    Trap(wasmtime::Error),
}

impl From<ErrorCode> for Refusal {
    fn from(c: ErrorCode) -> Self {
        Refusal::Code(c)
    }
}

fn open_at(
    s: &mut HostState,
    fd: Resource<Descriptor>,
    path_flags: PathFlags,
    path: String,
    oflags: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Resource<Descriptor>, Refusal> {
    let dir = match s.table.get(&fd).map_err(|e| Refusal::Trap(e.into()))? {
        Descriptor::Dir(d) => d.clone(),
        Descriptor::File(_) => return Err(ErrorCode::NotDirectory.into()),
    };
    // Inlet grants directories read-only: anything that would write is refused, as
    // wasmtime-wasi does for a read-only preopen. (A read-write grant would need this guard
    // to learn writing first.)
    let writes = oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::EXCLUSIVE)
        || flags.intersects(DescriptorFlags::WRITE | DescriptorFlags::MUTATE_DIRECTORY);
    if writes {
        return Err(ErrorCode::NotPermitted.into());
    }
    if flags.intersects(
        DescriptorFlags::FILE_INTEGRITY_SYNC
            | DescriptorFlags::DATA_INTEGRITY_SYNC
            | DescriptorFlags::REQUESTED_WRITE_SYNC,
    ) {
        return Err(ErrorCode::Unsupported.into());
    }
    let slot = s
        .budget
        .open_file("wasi:filesystem open-at")
        .map_err(|e| Refusal::Trap(e.into()))?;

    let mut opts = OpenOptions::new();
    opts.read(true);
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of blocking the
    // thread (it is refused below anyway). It has no effect on regular files and directories.
    // O_NOCTTY: a terminal device can never become the process's controlling terminal.
    opts.custom_flags(libc_flags());
    // cap-primitives' own hook for setting `follow` from outside (cap-fs-ext uses it).
    opts._cap_fs_ext_follow(if path_flags.contains(PathFlags::SYMLINK_FOLLOW) {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    });
    // Runs on the calling thread, like wasmtime-wasi with `allow_blocking_current_thread`:
    // with O_NONBLOCK and regular files only, nothing here waits on anyone.
    let file = cap_primitives::fs::open(&dir.dir, Path::new(&path), &opts)
        .map_err(|e| Refusal::Code(ErrorCode::from(e)))?;
    let meta = file
        .metadata()
        .map_err(|e| Refusal::Code(ErrorCode::from(e)))?;
    let descriptor = if meta.is_dir() {
        Descriptor::Dir(Dir::new(file, dir.perms, OpenMode::READ, true))
    } else if meta.is_file() {
        if oflags.contains(OpenFlags::DIRECTORY) {
            return Err(ErrorCode::NotDirectory.into());
        }
        Descriptor::File(File::new(file, dir.perms, OpenMode::READ, true))
    } else {
        s.log.host_event(
            inlet_policy::guest_output::Level::Warn,
            &format!(
                "open of {path:?} refused: it is a {}, not a regular file or directory (plugins read regular files only)",
                kind_of(&meta.file_type())
            ),
        );
        return Err(ErrorCode::Access.into());
    };
    let r = s
        .table
        .push(descriptor)
        .map_err(|e| Refusal::Trap(e.into()))?;
    s.files.descriptors.insert(r.rep(), slot);
    Ok(r)
}

#[cfg(unix)]
fn libc_flags() -> i32 {
    libc::O_NONBLOCK | libc::O_NOCTTY
}

#[cfg(not(unix))]
fn libc_flags() -> i32 {
    0
}

#[cfg(unix)]
fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn kind_of(_t: &std::fs::FileType) -> &'static str {
    "special file"
}

/// Bytes a listing of `dir` will take in host memory: names plus per-entry overhead. Counted
/// with a cheap pass over the names (no `stat` per entry, unlike the listing itself).
fn listing_size(dir: &std::fs::File) -> u64 {
    match cap_primitives::fs::read_base_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().len() as u64 + PER_ENTRY)
            .sum(),
        // The listing itself will report the error.
        Err(_) => 0,
    }
}
