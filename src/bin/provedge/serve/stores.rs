//! Where the server's store lives, as `--store` names it: a folder (the default), or an origin
//! (`http(s)://…`, `s3://…`). Each decision that touches the store asks this which one it is;
//! the folder's code is [`super::store`], [`super::stream`], [`super::checksum`] and
//! [`super::upload`], the origin's [`super::origin_store`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use provedge::{Lookup, StoreKey};

use super::config::ServerConfig;
use super::origin_store::settings::{self, StoreUrl};
use super::origin_store::OriginStore;
use super::store::CachedStore;
use super::upload_quota::UploadQuota;
use crate::folder_store::FolderStore;

pub enum Store {
    /// A folder, with the room its uploads may take.
    Folder {
        files: Arc<CachedStore>,
        uploads: Arc<UploadQuota>,
    },
    /// An HTTP server or an S3 bucket.
    Origin(Arc<OriginStore>),
}

impl Store {
    /// Opens what `--store` names (default `examples/store`); errors name the argument or the
    /// setting. Folders are measured for the upload quota here (blocking, at start).
    pub fn open(arg: Option<&Path>, server: &ServerConfig) -> Result<Store, String> {
        let url = match arg.and_then(Path::to_str) {
            Some(text) => StoreUrl::parse(text)?,
            None => None,
        };
        if let Some(url) = url {
            let env = |name: &str| std::env::var(name).ok();
            let resolved = settings::resolve(&url, &server.origin, &server.s3, &env)?;
            let store = OriginStore::new(resolved, &server.origin, &server.origin_cache)?;
            return Ok(Store::Origin(Arc::new(store)));
        }
        let folder = FolderStore::from_arg(arg);
        if !folder.root().is_dir() {
            return Err(format!(
                "{}: not a directory (--store)",
                folder.root().display()
            ));
        }
        let uploads = UploadQuota::measure(folder.root(), server.uploads_max_total_bytes);
        Ok(Store::Folder {
            files: Arc::new(CachedStore::new(
                folder,
                server.store_cache_entries,
                server.store_cache_bytes,
                server.store_recheck(),
            )),
            uploads: Arc::new(uploads),
        })
    }

    /// The folder, for what lives beside the store's keys by default (last-seen records).
    pub fn folder(&self) -> Option<PathBuf> {
        match self {
            Store::Folder { files, .. } => Some(files.root().to_path_buf()),
            Store::Origin(_) => None,
        }
    }

    /// Objects held by the store's cache, and their bytes (for metrics).
    pub fn usage(&self) -> (usize, usize) {
        match self {
            Store::Folder { files, .. } => files.usage(),
            Store::Origin(origin) => origin.usage(),
        }
    }

    /// Bytes the uploads take in a folder store (an origin counts its own).
    pub fn uploads_stored(&self) -> u64 {
        match self {
            Store::Folder { uploads, .. } => uploads.stored(),
            Store::Origin(_) => 0,
        }
    }

    /// Reads one fetch round's keys; also returns how many came from the cache.
    pub async fn read(&self, keys: &[StoreKey]) -> (Vec<(StoreKey, Lookup)>, usize) {
        match self {
            Store::Folder { files, .. } => files.read(keys).await,
            Store::Origin(origin) => origin.read(keys).await,
        }
    }
}
