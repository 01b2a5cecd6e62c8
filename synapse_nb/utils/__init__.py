"""Utilities from the Synapse SDK.

The file utilities live in :mod:`synapse_nb.utils.file` with the Synapse SDK's module layout
(``archive``, ``checksum``, ``chunking``, ``download``, ``encoding``, ``io``, ``video``).

Example:
    >>> from synapse_nb.utils.file import calculate_checksum, read_file_in_chunks
"""
