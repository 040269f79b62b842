"""Architectures, the safe ``.cvmodel`` bundle format and the catalogue of installed models.

Import the submodules directly (``crystalview.models.registry``, ``.bundle``, ``.catalog``);
``manifest`` alone avoids importing torch.
"""
