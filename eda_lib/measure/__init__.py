"""The per-case measurements of the data pass: one case (a forged image, its authentic
twin and its mask) at a time, every file opened once.

- :mod:`~eda_lib.measure.case`: one case measured into rows of every table;
- :mod:`~eda_lib.measure.health`: cleanvision's image-health values (a twin measured
  from its forgery where the two are the same, behind one call);
- :mod:`~eda_lib.measure.resample`: Pillow's 8-bit resize, reproduced exactly and faster;
- :mod:`~eda_lib.measure.instances`: area, box, components and shape of each instance;
- :mod:`~eda_lib.measure.copymove`: where each pasted copy came from, and how it moved;
- :mod:`~eda_lib.measure.cache`: the rows of each case, kept for the next pass;
- :mod:`~eda_lib.measure.screening`: the blind screen for duplicated regions, run on
  every image without its mask or twin;
- :mod:`~eda_lib.measure.selfmatch`: the screen's self-matching (keypoints, the dense
  field, the vote), from a working image to clusters of matches.

The pass that runs cases on workers is :mod:`eda_lib.datapass`, one stage above.
"""
