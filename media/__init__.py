"""The media library's files: the blob store (obstore), what a file is (PyAV, Pillow), its
ingest and the download URLs tablets are given (docs/architecture.md, "Rooms")."""
