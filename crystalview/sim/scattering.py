"""Electron atomic scattering factors (elastic, neutral atoms).

Parameterisation of Peng, Ren, Dudarev & Whelan, "Robust parameterization of elastic and
absorptive electron atomic scattering factors", Acta Cryst. A52 (1996) 257-276, as tabulated in
International Tables for Crystallography Vol. C, Table 4.3.2.2 (fit range 0 < s < 2 Å⁻¹):

    f(s) = Σ_{i=1..5} a_i exp(-b_i s²),   s = sin θ / λ = 1 / (2 d)   [f in Å, b in Å²]

The elements our random generators draw from are listed here; they cover light to heavy atoms so
that simulated patterns show the realistic spread of relative intensities. Real structures and
CIFs may hold any other element: those take gemmi's copy of the same International Tables
table (``Element.c4322``), which covers the whole periodic table.
"""

from __future__ import annotations

import numpy as np

# element -> (a1..a5, b1..b5)
PENG_1996: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "C": ((0.0489, 0.2091, 0.7537, 1.1420, 0.3555), (0.1140, 1.0825, 5.4281, 17.8811, 51.1341)),
    "N": ((0.0267, 0.1328, 0.5301, 1.1020, 0.4215), (0.0541, 0.5165, 2.8207, 10.6297, 34.3764)),
    "O": ((0.0365, 0.1729, 0.5805, 0.8814, 0.3121), (0.0652, 0.6184, 2.9449, 9.6298, 28.2194)),
    "F": ((0.0382, 0.1822, 0.5972, 0.7707, 0.2130), (0.0613, 0.5753, 2.6858, 8.8214, 25.6668)),
    "Na": ((0.1260, 0.6442, 0.8893, 1.8197, 1.2988), (0.1684, 1.7150, 8.8386, 50.8265, 147.2073)),
    "Mg": ((0.1130, 0.5575, 0.9046, 2.1580, 1.4735), (0.1356, 1.3579, 6.9255, 32.3165, 92.1138)),
    "Al": ((0.1165, 0.5504, 1.0179, 2.6295, 1.5711), (0.1295, 1.2619, 6.8242, 28.4577, 88.4750)),
    "Si": ((0.0567, 0.3365, 0.8104, 2.4960, 2.1186), (0.0582, 0.6155, 3.2522, 16.7929, 57.6767)),
    "S": ((0.0915, 0.4312, 1.0847, 2.4671, 1.0852), (0.0838, 0.7788, 4.3462, 15.5846, 44.6365)),
    "Cl": ((0.0799, 0.3891, 1.0037, 2.3332, 1.0507), (0.0694, 0.6443, 3.5351, 12.5058, 35.8633)),
    "K": ((0.2149, 0.8703, 2.4999, 2.3591, 3.0318), (0.1660, 1.6906, 8.7447, 46.7825, 165.6923)),
    "Ca": ((0.2355, 0.9916, 2.3959, 3.7252, 2.5647), (0.1742, 1.8329, 8.8407, 47.4583, 134.9613)),
    "Ti": ((0.2123, 0.8960, 2.1765, 3.0436, 2.4439), (0.1399, 1.4568, 6.7534, 33.1168, 101.8238)),
    "Cr": ((0.1970, 0.8228, 2.0200, 2.1717, 1.7516), (0.1197, 1.1985, 5.4097, 25.2361, 94.4290)),
    "Fe": ((0.1929, 0.8239, 1.8689, 2.3694, 1.9060), (0.1087, 1.0806, 4.7637, 22.8500, 76.7309)),
    "Co": ((0.2186, 0.9861, 1.8540, 2.3258, 1.4685), (0.1182, 1.2300, 5.4177, 25.7602, 80.8542)),
    "Ni": ((0.2313, 1.0657, 1.8229, 2.2609, 1.1883), (0.1210, 1.2691, 5.6870, 27.0917, 83.0285)),
    "Cu": ((0.3501, 1.6558, 1.9582, 0.2134, 1.4109), (0.1867, 1.9917, 11.3396, 53.2619, 63.2520)),
    "Zn": ((0.1780, 0.8096, 1.6744, 1.9499, 1.4495), (0.0876, 0.8650, 3.8612, 18.8726, 64.7016)),
    "Ga": ((0.2135, 0.9768, 1.6669, 2.5662, 1.6790), (0.1020, 1.0219, 4.6275, 22.8742, 80.1535)),
    "Ge": ((0.2135, 0.9761, 1.6555, 2.8938, 1.6356), (0.0989, 0.9845, 4.5527, 21.5563, 70.3903)),
    "As": ((0.2059, 0.9518, 1.6372, 3.0490, 1.4756), (0.0926, 0.9182, 4.3291, 19.2996, 58.9329)),
    "Sr": ((0.3723, 1.4598, 3.5124, 4.4612, 3.3031), (0.1480, 1.4643, 9.2320, 49.8807, 148.0937)),
    "Zr": ((0.2997, 1.1879, 3.1075, 3.9740, 3.5769), (0.1121, 1.0638, 6.3891, 28.7081, 97.4289)),
    "Mo": ((0.3069, 1.1714, 3.2293, 3.4254, 2.1224), (0.1101, 1.0222, 5.9613, 25.1965, 93.5831)),
    "Ag": ((0.2739, 1.0503, 3.1564, 2.7543, 1.4328), (0.0881, 0.8028, 4.4451, 18.7011, 79.2633)),
    "Sn": ((0.2966, 1.1157, 3.0973, 3.8156, 2.5281), (0.0896, 0.8268, 4.2242, 20.6900, 71.3399)),
    "Ba": ((0.5229, 2.2874, 4.7243, 5.0807, 5.6389), (0.1434, 1.6019, 9.4511, 42.7685, 148.4969)),
    "W": ((0.3661, 1.6191, 3.2455, 4.0856, 3.2064), (0.0761, 0.7543, 4.0952, 18.2886, 68.0967)),
    "Pt": ((0.3083, 1.4158, 2.9662, 3.9349, 2.1709), (0.0609, 0.5993, 3.1921, 12.5285, 49.7675)),
    "Au": ((0.3055, 1.3945, 2.9617, 3.8990, 2.0026), (0.0596, 0.5827, 3.1035, 11.9693, 47.9106)),
    "Pb": ((0.3540, 1.5453, 3.5975, 4.3152, 2.7743), (0.0668, 0.6465, 3.6968, 16.2056, 61.4909)),
}

ELEMENTS: tuple[str, ...] = tuple(PENG_1996)


def electron_scattering_factor(element: str, s: np.ndarray) -> np.ndarray:
    """Elastic electron scattering amplitude f(s) in Å of a neutral atom.

    Parameters
    ----------
    element
        Chemical symbol, one of `ELEMENTS`.
    s
        sin θ / λ in Å⁻¹ (= 1 / 2d), any shape.
    """
    a, b = _coefficients(element)
    s2 = np.square(np.asarray(s, dtype=np.float64))[..., None]
    return np.sum(np.asarray(a) * np.exp(-np.asarray(b) * s2), axis=-1)


def _coefficients(element: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Peng 1996 coefficients (a1..a5, b1..b5) of ``element``: ours, else gemmi's table."""
    if element in PENG_1996:
        return PENG_1996[element]
    cached = _GEMMI_CACHE.get(element)
    if cached is not None:
        return cached
    try:
        import gemmi

        known = gemmi.Element(element)
        coefs = known.c4322.get_coefs() if known.atomic_number > 0 else None
    except (ImportError, RuntimeError, ValueError):
        coefs = None
    if not coefs or not any(coefs[:5]):
        raise ValueError(f"no electron scattering factor for element {element!r}")
    _GEMMI_CACHE[element] = (tuple(coefs[:5]), tuple(coefs[5:]))
    return _GEMMI_CACHE[element]


_GEMMI_CACHE: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
