"""Blind copy-move screen: duplicated regions inside one image, without mask or twin.

:mod:`eda_lib.measure.copymove` explains a copy somebody marked. Most images have no
mask and no authentic twin (test images, authentic images that may hide an unlabelled
duplication, an analyst's folder of figures); :func:`screen_image` looks for
duplicated regions in such an image by itself, classically (no weights), and returns
each candidate pair with the dense scores of copymove and a verdict.

Algorithm (all of it on the gray image):

1. *Working resolution.* The image is shrunk (``INTER_AREA``) so that its longest side
   is at most ``max_side`` (512 by default); keypoints, clustering, region growing and
   the false-positive controls run there, so the cost is bounded per image. A strip
   (a long, narrow figure) is shrunk less: its shorter side keeps ``strip_side`` px (48)
   or its own, else a copy across its width is a few pixels wide (on strips 40-120 px by
   1440-3000 px with a flipped square copy across their width, 1 of 6 copies was found
   with the working size alone, 6 with 48 or 64 px kept). Of the 480 benchmark figures
   of seeds 0-5 (numbers below), 48 px changed the verdicts of two strips: one more copy
   found on seeds 4 5 (oF1 0.695 -> 0.697), and on seeds 0 1 a forged strip whose copy
   is still missed flagged for another pair (forged flagged 66.2 -> 67.5 %, oF1 the
   same); 64 px also flagged a clean 72 x 938 histology strip on seeds 2 3. On seeds
   0 1, 96 and 128 px found no more copies (55.9 and 54.9 %, oF1 0.762 and 0.756, for
   8-11 % more time in runs one after another). SIFT
   doubles its input internally, so its finest scale is still that of a 1024 px image.
2. *Keypoints.* SIFT (``cv2.SIFT_create``, at most ``max_keypoints``, 1000), its
   positions corrected by the quarter pixel OpenCV's doubled first octave leaves (else
   a flipped copy fits half a pixel off), its descriptors as RootSIFT (square roots of
   the L1-normalized descriptor, compared by Euclidean distance). Mirror images need
   no second detection: the descriptor of the mirrored patch around a keypoint is the
   keypoint's own descriptor with its 4x4 spatial rows reversed and its 8 orientation
   bins negated (checked on OpenCV 4/5 output), so matching every descriptor against
   every mirrored descriptor finds flipped copies. SIFT's contrast threshold is
   absolute, so a dim image (its 0.5-99.5 percentiles less than ``sift_span``, 128,
   gray levels apart) is stretched about its middle level to that span, by at most
   :data:`~eda_lib.measure.selfmatch.MAX_STRETCH` (4), for the detection only;
   everything after it reads the image as it is. On the micrographs of seeds 0 and 1
   (fluorescence, histology, blot and lattice figures, 62 copies) with their contrast
   halved, 22 copies were found without the stretch and 27 with it, 34 at full
   contrast either way. On the benchmark (numbers
   below) it found 3 more copies over six seeds and flagged the one clean figure still
   flagged no more: oF1 0.7497 -> 0.759 on seeds 0 1, 0.769 -> 0.766 on seeds 2 3
   (one forged figure less flagged, two copies more found), 0.697 -> 0.702 on seeds 4 5.
   Of the 40 duplicated blot bands below, it found 3 rather than 4: these dim blots
   keep other keypoints once stretched.
3. *Matching.* Brute force (one matrix product) within the image, self and mirror.
   No 2-NN ratio test (a copy's keypoint has its twin *and* look-alikes nearby, and
   the test drops a third of the true matches after JPEG): every keypoint keeps its
   ``neighbours`` (4) nearest neighbours whose distance is at most ``max_distance``
   and at most ``background_ratio`` of the distance of its (``neighbours`` + 2)-th
   neighbour, the background of chance look-alikes. Matches closer than ``min_shift``
   working pixels are dropped (a keypoint and itself, the same corner found twice).
4. *Geometry.* A Hough vote restricted to the eight symmetries: a match's orientation
   difference, snapped to a quarter turn within ``snap_degrees``, and its parity
   (self or mirror) name one of :data:`~eda_lib.geometry.TRANSFORMS`, ``L``; matches
   of one transform vote for the translation ``q - L p`` in bins of ``hough_bin``
   working pixels (distinct source points per bin, summed over 2 x 2 bins; the bins
   span every translation the eight transforms give, which for a flip or a quarter
   turn reaches past the image's own size). The
   ``max_peaks`` strongest peaks, in order, seed a fit of ``q = s L p + t`` (scale
   and translation by least squares, trimmed to ``inlier_px``) over all matches of
   their transform, so a scaled copy, whose votes smear over neighbouring bins, is
   still gathered; its inliers are split into spatially connected groups, and a group
   with at least ``min_inliers`` (3) distinct keypoints is a cluster. Clusters whose
   two ends overlap (texture matching itself nearby) come last, at most
   ``max_clusters`` are kept. A scale within ``scale_snap`` of 1 becomes exactly 1.
   Free rotations are not searched: a copy rotated by another angle is not found
   (``free_rotation`` remains the reason of a fit that does not snap, which the vote
   no longer produces).
5. *Dense fallback.* With fewer than ``fallback_keypoints`` keypoints (smooth
   micrographs, small images), blocks on a coarse grid are described by quantities
   invariant under the eight symmetries (mean and spread of concentric square rings,
   normalized for brightness and contrast), matched by nearest neighbours, each match
   given its best of the eight transforms, and fed to the same vote.
   *Dense field* (tuning ``dense``: ``"always"`` by default, ``"fallback"`` when no
   pair of the keypoints is a copy, or ``"off"``). Small copies and faint
   texture keep too few keypoints after JPEG; a nearest-neighbour field of patch
   features looks for them by area instead. The field runs on the working image itself
   when its longest side is at most ``dense_native_side`` (384: small images, whose
   copies are a few dozen pixels across and lose most to a resize), else on a copy
   with the longest side at most ``dense_max_side`` (256; at 384 px on every image the
   field found other copies than at 256, more on two seed pairs of three, fewer on the
   third, for 20-25 % more time). Every
   pixel is described by the magnitudes of polar
   cosine responses on a disk of ``dense_radius`` (4) px, divided by the disk's
   contrast (invariant under the eight symmetries, a brightness offset and a gain).
   Points with contrast on a grid of ``dense_stride`` (2) px look for their nearest
   neighbour at least ``dense_min_offset`` (9) px away, PatchMatch-like and
   vectorized: seeds from the neighbours in the order of random projections of the
   features, then propagation along the grid (a neighbour's match moved by the
   neighbour's transform, read from the response phases) and random search. The
   field is regularized (a point is kept when 3 of its 4 grid neighbours' matches
   lie where its transform puts them, in a connected group of at least
   ``dense_min_points``, 10) and each group gives a few dozen matches to the same
   vote and fit (clusters of method ``"dense"``), then to the same regions,
   controls and verification. A dense copy lying inside a larger copy is dropped.
   The features are compared as whole numbers (in units of 1/4096): sums of floats
   change with the memory alignment of the arrays, and with them the field, from one
   process to the next. The search is random (a fixed seed): on the test suite's
   texture (300 px wide, so its field runs at its own size), copies under all eight
   transforms are found with every seed tried. In a shrunk field a copy usually lies a
   fraction of a pixel off the grid of its source; its matches then cost more than
   chance look-alikes, and on the same texture shrunk to 256 px identity and
   anti_transpose copies were found with one or two seeds of six. Numbers are at the
   end of this docstring.
6. *Regions.* The source content is warped onto the target by the fitted transform;
   the target region is the connected area of textured pixels where the two agree
   (after a gain and offset fit), grown from the inliers that agree (the whole hull of
   the inliers only where agreement is sparse), holes filled. The source region is
   its image under the inverse transform. The agreement map is blurred over 5 x 5
   pixels, so a pixel within 2 of the copy's edge also sees the unrelated
   surroundings and usually fails: the region lies about 2 working pixels inside the
   copy. Verification scores that conservative region (grown before it, fewer copies
   passed); a verified pair's reported regions are then grown by ``region_grow`` (2)
   working pixels. On seeds 0 and 1 this took the median share of a found copy's
   pixels that its pair covers from 0.71 to 0.88 (the median share of the pair's
   pixels inside the copy from 1.00 to 0.94) and the baseline's oF1 from 0.701 to
   0.722; 1 or 3 pixels gave 0.715 and 0.716.
7. *Verification.* The controls below run first; of the pairs passing them, the
   ``max_pairs`` (4) largest are scored at full resolution by
   :func:`eda_lib.measure.copymove.verify_pairs`, the code that verifies a pair marked by
   a mask: ``ncc``, ``residual_ncc``, ``identical_frac``, ``texture``, ``margin`` (best
   transform over the runner-up at the source's place) and its transform and scale.
   A rejected pair is not verified: its scores stay None.
8. *One duplication, one pair.* The keypoints and the dense field often find one
   duplicated region as several ``copy`` pairs: the whole and a piece of it, or two
   pieces, either way round. A copy whose transform and scale are those of a larger
   copy, whose source centre that copy's transform takes to its own target centre,
   and whose two ends meet that copy's two ends, is merged into it
   (:func:`_merged_parts`): the larger pair keeps its scores, its regions become the
   union of both. The competition's metric counts each extra piece as a false
   instance. On the benchmark (numbers below) this merged 8 pieces over six seeds
   and raised the baseline's oF1 from 0.759 to 0.760 on seeds 0 1, 0.766 to 0.768 on
   seeds 2 3 and 0.702 to 0.715 on seeds 4 5; one copy fewer counts as found on
   seeds 0 1, where a smaller pair had its box right and the larger pair it joined
   had spread past the copy (164 rather than 165 of 307 over six seeds).

False-positive controls (``periodic`` and ``too_close`` first when the two regions
overlap, then ``scale_bar``, ``text``, ``flat``, ``periodic``; chart elements, as
``text``, after verification); each names the ``reason`` of a ``rejected`` pair (the
thresholds are tuning keys):

``periodic``
    The surroundings agree as well: a ring around the target region (as wide as
    ``ring_frac`` of its size) matches the ring mapped from the source with NCC of at
    least ``periodic_ncc`` (0.75). Gel lanes, grids and regular textures repeat beyond
    any region, whereas a pasted copy sits in surroundings unrelated to its source's.
    Checked before ``too_close`` when the regions overlap: on a repeating pattern
    the agreement map spreads over the whole pattern.
``too_close``
    The two regions overlap by more than ``max_overlap`` (0.2) of the smaller, or
    their centres are less than ``min_shift_frac`` (0.3) of the region's size apart:
    a region matching a slightly shifted self is continuous texture, not a move.
``scale_bar``
    The region is mostly background (at least ``background_share``, 0.45, of its
    pixels within 6 levels of its commonest flat level, and flat or beside "ink" 40
    levels off it) and the rest is one elongated (aspect >= 3), nearly rectangular
    (fill >= 0.8) bar: scale bars are drawn identically in many panels.
``text``
    Mostly background as above, and either two-level (background plus one ink level,
    +-10, hold ``two_level_share``, 0.75, of the region) or thin strokes (an erosion
    by ``stroke_px`` x ``stroke_px``, 3, removes ``stroke_removed``, 60 %, of the
    foreground). Repeated glyphs, panel letters, tick labels and chart markers.
    Also labels drawn on a picture: where "ink" (levels within ``ink_levels``, 12, of
    black or white, with a level ``ink_contrast``, 100, away within 2 px: strokes,
    not a dark background), widened by ``ink_margin`` (4) px, covers at least
    ``ink_share`` (5 %) of the region, the rest of the region must agree as well
    (NCC of at least ``ink_rest_ncc``, 0.8, about what a copy must reach), and a
    region of black and white ink only is drawn, not imaged. A label written twice
    agrees on its strokes only; but JPEG rings around white strokes on a dark
    micrograph, and the ringing, beyond the ink's margin, agrees as well: two "DAPI"
    labels on different dark content had a rest NCC of 0.53-0.58, so at 0.5 they
    were copies. A copy that carries a label carries its surroundings too, and at
    0.8 or 0.9 no copy was lost on seeds 0 and 1 (clean figures flagged
    5.0 -> 2.5 %; numbers below). Black error bars on a chart are ink as well.
    Last, after verification, chart elements: a pair that would be a ``copy`` whose
    target region, at full resolution, is nearly all flat fills (``drawn_levels``, 4,
    gray levels +-4 hold ``drawn_share``, 93 %, of it) with its texture only on thin
    lines (a 5 x 5 erosion removes ``drawn_thin``, 80 %, of the textured pixels). Two
    bars of one colour with their error bars match as well as a copy does. Over the
    six seeds of the numbers below, the 165 candidates with ncc >= ``copy_ncc``
    whose target box lies on a true copy's box (IoU >= 0.5) held at most 0.89 of
    their pixels on 4 levels and lost at most 0.77 of their texture to the erosion;
    the 63 such candidates on 40 figures with a duplicated blot band (not in the
    benchmark) at most 0.99 and 0.80, never both over the thresholds; the two clean
    charts still flagged before had 0.96 / 0.89 and 0.97 / 0.86. It misses most
    bar pairs whose texture is more than lines (two orange bars with error bars:
    0.95 / 0.73): of seven false copies on 80 charts of the demo generator (JPEG
    85), it removes one.
``flat``
    Less than ``textured_share`` (0.3) of the region has local contrast (standard
    deviation over 5x5 of at least ``flat_std``, 2.5 gray levels): white gutters,
    uniform or clipped backgrounds and panel borders agree with anything. Copymove's
    own ``texture < TEXTURE_MIN`` (too few texture-bearing pixels at full
    resolution) also gives ``flat``.

A pair that passes the controls is a ``copy`` when ``ncc >= copy_ncc`` (0.85),
``residual_ncc >= copy_residual_ncc`` (0.3; the noise residual is carried along by a
copy, and even after JPEG compression it stays correlated; two look-alike regions of
different origin have independent noise) and ``margin >= copy_margin`` (0.25: the
found transform beats the runner-up at the same place; blot bands, wells and round
cells look alike under several flips, their margin is near 0, while every true copy
of seeds 0 and 1 had 0.29 or more) or, failing that margin, the *location* margin
is at least ``copy_location_margin`` (0.3): the target's noise residual (the gray
image minus its Gaussian blur, sigma 2, at a longest side of at most
:data:`RESIDUAL_SIDE` px), brought into the source's orientation and size, matches
at the source (NCC) better by that much than anywhere else in the image, the
neighbourhoods of both ends left out. A duplicated blot band is symmetric, so no
transform wins at its place, but its grain goes to one place only; two lanes that
merely look alike match a third as well. Else ``unsure`` with reason
``weak_match``. On 40 blot figures with one band region duplicated (made with
:func:`eda_lib.dataset.demo.paint_blot`, JPEG 75-95 or noise; not in the benchmark),
the ten pairs held at ``weak_match`` on the whole of a duplicated band had
location margins of 0.14-0.49 and every candidate elsewhere on those figures at
most 0.13; on seeds 0 and 1 the weak matches
that were not a true copy reached 0.27 (0.22 on a clean blot figure), whence 0.3.
It found 4 of the 40 duplicated bands rather than 2 (3 more partly), and on the
benchmark one more copy on seeds 0 1, nothing else changed (at 0.2: two clean
compound figures flagged on seeds 2 3 and 4 5, at 0.236 and 0.228). The rest of
the 40 end as ``periodic`` (12: the lanes around a band repeat), ``weak_match``
(9), ``too_close`` (4), ``text`` (4: pale bands pass the two-level glyph rule),
``flat`` (1) or without a candidate (3).
``identical_frac`` is reported but not used: recompression and added noise destroy
pixel identity.

Which region is the source cannot be known without a twin: ``roles`` is
``"undecided"``, ``source`` and ``target`` are only the two ends of the transform
(``target = transform(source)`` resized by ``scale``).

Numbers (``benchmarks/bench_screening.py --seeds S S --forged 40 --clean 40 --rounds
1``, the thresholds chosen on seeds 0 and 1 only; each seed pair is 80 forged figures,
about 100 copies, and 80 clean ones at the real size mix, every figure JPEG 70-95 or
noisy; load average 1.5-3.9 on a shared 2-core machine). The keypoints alone, then
with the dense field at 256 px on every image and 3 random projections, then the
defaults without ``region_grow`` (the field at the image's own size on images of at
most ``dense_native_side`` px, ``dense_projections`` 5), then with regions grown by
``region_grow`` (which changes boxes and masks, not verdicts), then with
``ink_rest_ncc`` 0.8 rather than 0.5, then with chart elements rejected as ``text``,
then the defaults (a weak match with a location margin of 0.3 a copy):

- seeds 2 3 (the report's): forged flagged 51 -> 65 -> 69 -> 69 -> 67.5 -> 67.5 ->
  67.5 %, clean flagged 1.3 -> 2.5 -> 3.7 -> 3.7 -> 1.3 -> 0 -> 0 %, copies found 39
  -> 49.5 -> 52.4 -> 54.4 -> 54.4 -> 54.4 -> 54.4 %, baseline oF1 0.679 -> 0.712 ->
  0.728 -> 0.747 -> 0.762 -> 0.769 -> 0.769;
- seeds 4 5: forged flagged 44 -> 51 -> 56 -> 56 -> 56 -> 56 -> 56 %, clean flagged
  1.3 -> 3.7 -> 1.3 -> 1.3 -> 0 -> 0 -> 0 %, copies found 29 -> 40 -> 44 -> 46 -> 46
  -> 46 -> 46 %, oF1 0.625 -> 0.642 -> 0.668 -> 0.685 -> 0.695 -> 0.695 -> 0.695;
- seeds 0 1 (the thresholds'): forged flagged 60 -> 60 -> 64 -> 64 -> 64 -> 64 -> 66 %,
  clean flagged 3.7 -> 3.7 -> 5.0 -> 5.0 -> 2.5 -> 1.3 -> 1.3 %, copies found 50 -> 51
  -> 56 -> 56 -> 56 -> 56 -> 57 %, oF1 0.685 -> 0.689 -> 0.701 -> 0.722 -> 0.734 ->
  0.740 -> 0.7497.

``ink_rest_ncc`` 0.7 on seeds 0 1: clean flagged 3.7 %, oF1 0.728; 0.9 the same as
0.8. The figure that 0.8 no longer flags on seeds 2 3 held a false pair only (its
copy was not found either way); on another, a second, partial pair of a found copy
is gone. With the working size at 384 (``max_side``; the field then runs at it),
copies found were 59.8, 53.4 and 49.0 % on seeds 0 1, 2 3 and 4 5, clean figures
flagged 1.3, 3.7 and 2.5 %, oF1 0.755, 0.750 and 0.696, for 12 % more time: six more
copies over the six seeds, five more clean figures flagged, the same mean oF1.

The field at the image's own size alone (3 projections) gave 52.0, 50.5 and 42.2 %
copies found on seeds 0 1, 2 3 and 4 5, clean flagged unchanged; 4 projections gave
52.0, 55.3 and 45.1 %, 6 gave 54.9 % on seeds 0 1 (5 had the best oF1 and the most
copies there). Targets: forged flagged 90 % (MISSED), clean flagged 5 % (met), copies
found with both boxes at IoU >= 0.5 85 % (MISSED), oF1 0.75 on the half-clean set (met
on seeds 0 1 and 2 3 since step 8, 0.760 and 0.768; MISSED on 4 5, 0.715; all-authentic
scores 0.5). Over the six seeds, 164 of 307 copies are found (165 before step 8's
merging, 121 without the field, 144 with it at 256 px everywhere and 3 projections,
156 before ``region_grow``, 161 before ``strip_side``, 162 before ``sift_span``), 153 of
240 forged figures flagged (123, 141; 150 without the location margin, 151 with
``ink_rest_ncc`` 0.5, 152 before ``strip_side``, 154 before ``sift_span``) and none of
240 clean ones (5, 8; 8 with ``ink_rest_ncc`` 0.5, 3 without the chart rule, 1 before
``sift_span``). The field costs 25-30 % more than the keypoints alone; the defaults add 6-10 % to that
(the screen's CPU seconds over the 160 figures of seeds 2 3, both versions in one
process, image by image: 1.027x for the field at the image's own size, load average
2-3.2; with 5 projections as well 1.063x at load 3, 1.082x over two rounds at load
4-4.5, 75.6 -> 81.8 s; growing the regions costs nothing measurable). At 0.12-0.25 s
per megapixel depending on the load, the screen is 6-10x a PNG decode (target 1x,
MISSED). SIFT alone, at 512 px, is about 3x a decode.

What limits recall is still matching. Of the copies SIFT misses (their keypoints are
not detected again after JPEG, a brightness change or a resize on faint texture, or
the copy is a few working pixels across; a larger working size, more keypoints, a
lower contrast threshold, more octave layers or more neighbours did not change that),
the dense field has 3 or more correct matches for about a quarter: on seeds 0 and 1,
40 of the 50 copies still missed have no candidate pair near them, 20 of them less
than 24 working pixels across (barely wider than the field's disk at 256 px); of the
others, 4 fail ``copy_margin`` (blot bands, symmetric content, often with ncc 0.99),
2 are flagged with boxes below IoU 0.5 and 4-6 are rejected by a control. Without
``copy_margin`` no more copies are found on seeds 0 and 1 (the near-perfect pairs it
rejects, ncc 0.95-0.998, are not the copies' boxes) and 29 % of the clean figures
are flagged: lattices and blots match themselves under a flip with ncc 0.99 and a
residual NCC of 0.96-0.99, so a near-perfect match is no reason to waive the margin.

Over the six seeds, 143 of the 307 copies are missed. 118 of them have no candidate
pair whose two boxes reach IoU 0.25 with the copy's. 32 of those are in lattices: a
block of identical wells matches every place of the lattice with the same phase, so
only its noise tells its source apart. The other 86 are mostly small: their shorter
side has a median of 20 working px, and 58 are at most 25 px across; 18 of the 86
are in strips and 23 in images of at most 400 px (screened at their own size).
Of the other 25 misses, 9 are flagged with boxes below IoU 0.5, 8 are held at
``weak_match`` and 8 are rejected by a control (5 ``flat``, 3 ``text``). Resolution
is not what the small copies lack. On seeds 0 1 the defaults found 55.9 % of the
copies (oF1 0.760) in 21.4 CPU-s. With the working size at 1024 (``--max-side
1024``: twice the pixels along each side), 52.9 % were found, oF1 0.746, in 32.9 s. With the field at
the working size on every image up to 512 px (``dense_max_side`` and
``dense_native_side`` 512), 55.9 % were found, 2.5 % of clean figures were flagged,
oF1 0.748, in 37.9 s. (Three runs one after another, load average 0.5-1.6.)
A copy a few dozen pixels across, recompressed or with its brightness changed,
keeps too few keypoints and too small a consistent field at any scale. For the
field it is the search that fails, not the features. On seed 1, figure 14 (a
256 px figure, so the field runs at its own size), the exact nearest neighbour of
each of the 20 grid points whose disk lies inside the copy is its true source.
The field matches none of them: its seeds (the neighbours in the order of a few
random projections) land on the source by chance, and a copy of 20 points gets no
chance hit to propagate. Exact neighbours are no cure, though. With each point's 16
nearest neighbours (a k-d tree) added to the seeds, seeds 0 1 found 52.9 % of the
copies, in 3.3 times the time. On large copies the exact nearest neighbours are
less coherent than what the field's propagation finds: on a copy with 470 such
points, 59 exact neighbours were right against 160 of the field's matches.
``dense_window`` 12 rather than 6 found 53.9 %.

Where the time goes (line profile of the screen on the 189 images of the demo generator's
real size mix at forged 100, one process, single-threaded OpenCV, 28.9 s in all): SIFT's
detection 26 %, its matching 6 %, the dense field 32 % (the search 23 %, the features
4 %), the vote and fits 12 %, regions 6 %, controls 3 %, copymove's verification 15 %.
The cost is nearly the same for every image whatever its size (working size 512, field
at most 384 px): the 116 images under 0.5 MP took 15.0 s of 24.6 s, about 0.13 s each,
like the 1-2 MP ones; per megapixel the screen is dearest on the small images that make
up most of the real mix. The field's window distances run feature by feature on
contiguous rows, in 32 bits when no sum can overflow (the pool's features are a few
thousand units at most), which cut the field's search from 9.3 to 6.6 s with the same
matches. Settings tried on seeds 0 and 1 (``bench_screening.py --set``) saved little
or cost copies: ``max_peaks`` 30 the same CPU time, one copy fewer found and two clean
figures fewer flagged; ``max_keypoints`` 700 the same time, copies 55.9 -> 52.9 %, clean
flagged 5.0 -> 6.2 %; ``dense_rounds`` 3 3.5 % less time, copies 55.9 -> 52.0 %.
What each stage costs and tells, on seeds 0 and 1 (one run after another, load
average 0.9-1.8; clean figures flagged 0 % in every run): the defaults found 55.9 %
of the copies, flagged 67.5 % of the forged figures and scored oF1 0.760 in 21.4
CPU-s. The keypoints alone (``dense`` ``"off"``) took 13.6 s (0.64 of it) for
49.0 %, 62.5 % and 0.731. The field only where the keypoints found no copy
(``"fallback"``) took 18.9 s (0.88) for 52.0 %, 67.5 % and 0.748. The field alone
(no keypoints, a scratch variant) took 9.3 s (0.43) for 34.3 %, 43.8 % and 0.659.
Each stage finds copies the other misses, so neither is dropped. (These CPU seconds were
read before ``bench_screening.py`` ran one BLAS thread, as the pass's workers do: the
spinning of idle OpenBLAS threads counted in them, 1.7x at the defaults on seeds 2 3,
54.7-55.8 CPU-s for 32.5-34.1 s of wall time against 32.5 for 32.5 since. Compare them
with each other only, as rough ratios.)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, cast

import cv2
import numpy as np

from ..config import merge_tuning
from ..dataset import images
from ..errors import ConfigError
from ..geometry import LINEAR_PARTS, Box, apply_transform, bbox, box_iou, inverse_transform
from . import copymove
from .selfmatch import Cluster, block_matches, dense_clusters, distinct_points, shrunk, sift_matches, vote

__all__ = ["DEFAULT_TUNING", "ScreenPair", "Screened", "screen_image"]

#: Parameters of :func:`screen_image`; pass any of them as keyword arguments to override.
DEFAULT_TUNING: Mapping[str, Any] = MappingProxyType(
    {
        # image status: shorter side below this (px) is "too_small"; fewer than
        # flat_image_share of the working pixels with local contrast is "too_flat"
        "min_side": 24,
        "flat_image_share": 0.002,
        # a strip (a long, narrow figure) is shrunk no further than this shorter side (px)
        "strip_side": 48,
        # keypoints
        "max_keypoints": 1000,
        "contrast_threshold": 0.02,   # SIFT's; OpenCV's default 0.04 misses faint texture
        "octave_layers": 3,           # SIFT's (OpenCV's default)
        "edge_threshold": 10.0,       # SIFT's (OpenCV's default)
        "sift_sigma": 1.6,            # SIFT's (OpenCV's default)
        "sift_span": 128,             # SIFT sees a dim image stretched to this many levels
        "neighbours": 4,              # nearest neighbours kept per keypoint (self and mirror)
        "max_distance": 0.6,          # RootSIFT distance of a match at most this
        "background_ratio": 0.9,      # ... and this share of the (neighbours + 2)-th one
        "min_shift": 10.0,            # working px: closer matches are the same spot
        "min_move": 24.0,             # working px: shorter unflipped moves do not vote
        # geometry
        "inlier_px": 3.0,             # working px, residual of an inlier
        "min_inliers": 3,
        "max_clusters": 8,
        "max_peaks": 60,              # vote peaks examined, most votes first
        "hough_bin": 8.0,             # working px, translation bins of the vote
        "group_link": 0.12,           # inliers this share of the longest side apart link
        "snap_degrees": 20.0,
        "scale_snap": 0.04,
        "max_scale": 2.0,
        # dense fallback below this many keypoints
        "fallback_keypoints": 40,
        "block_side": 8,              # px at the fallback's resolution
        "max_block_matches": 1500,    # the fallback's best matches kept
        "block_max_side": 256,        # the fallback runs with the longest side at most this
        # dense field: "always", "fallback" (only when no pair is a copy) or "off"
        "dense": "always",
        "dense_max_side": 256,        # the field runs with the longest side at most this
        "dense_native_side": 384,     # ... at the working size when that is at most this
        "dense_radius": 4,            # px, disk of the patch features
        "dense_stride": 2,            # px, grid of the points that look for a match
        "dense_min_offset": 9,        # px, nearest neighbour at least this far away
        "dense_projections": 5,       # random projections that seed the field
        "dense_window": 6,            # neighbours either side in each projection's order
        "dense_rounds": 4,            # rounds of propagation and random search
        "dense_min_points": 10,       # consistent grid points in a group, at least
        "dense_group_points": 24,     # ... of which at most about this many are kept
        # regions
        "agree_tol": 3.0,             # gray levels: least tolerance of the agreement map
        "agree_contrast": 0.8,        # ... and at most this share of the local contrast
        "max_pairs": 4,               # pairs passing the controls verified, largest first
        "region_grow": 2,             # working px a verified pair's regions grow (0: not)
        # false-positive controls
        "max_overlap": 0.2,
        "min_shift_frac": 0.3,
        "background_share": 0.45,
        "two_level_share": 0.75,
        "stroke_px": 3,
        "stroke_removed": 0.6,
        "flat_std": 2.5,
        "textured_share": 0.3,
        "ring_frac": 0.3,
        "ink_levels": 12,             # text on a picture: ink within this of black/white
        "ink_contrast": 100,
        "ink_margin": 4,
        "ink_share": 0.05,
        "ink_rest_ncc": 0.8,
        "periodic_ncc": 0.75,
        # chart elements (at full resolution, on pairs that would be copies)
        "drawn_levels": 4,            # flat gray levels (+-4) of drawn graphics
        "drawn_share": 0.93,          # ... holding at least this share of the region
        "drawn_thin": 0.8,            # and texture on lines: a 5x5 erosion removes this
        # verdict
        "copy_ncc": 0.85,
        "copy_residual_ncc": 0.3,
        "copy_margin": 0.25,          # over the runner-up transform at the same place
        "copy_location_margin": 0.3,  # ... or the residual NCC at the source over elsewhere
    }
)

#: Verdicts of a pair.
VERDICTS = ("copy", "unsure", "rejected")


@dataclass(frozen=True)
class ScreenPair:
    """One candidate duplicated pair.

    ``source`` and ``target`` are the two ends of the fitted transform
    (``target = transform(source)``, resized by ``scale``); without a twin which one
    was pasted is unknown (``roles == "undecided"``). Boxes are inclusive full
    resolution ``(x1, y1, x2, y2)``. The region masks are kept compactly, as the
    crops of their boxes; :meth:`source_mask`, :meth:`target_mask` and
    :meth:`instance_mask` give them at full size. ``method`` is the image's
    (``"sift"`` or ``"blocks"``), or ``"dense"`` for a pair the dense field found.
    """

    pair: int
    source_box: Box
    target_box: Box
    roles: str
    transform: str | None
    scale: float | None
    ncc: float | None
    residual_ncc: float | None
    identical_frac: float | None
    texture: int | None
    margin: float | None
    inliers: int
    method: str
    verdict: str
    reason: str
    source_crop: np.ndarray = field(repr=False)
    target_crop: np.ndarray = field(repr=False)

    def as_row(self) -> dict[str, Any]:
        """The columns of a tidy table (boxes as ``source_x1`` .. ``target_y2``), no masks."""
        row: dict[str, Any] = {"pair": self.pair}
        for prefix, box in (("source", self.source_box), ("target", self.target_box)):
            for key, value in zip(("x1", "y1", "x2", "y2"), box):
                row[f"{prefix}_{key}"] = value
        for key in ("roles", "transform", "scale", "ncc", "residual_ncc", "identical_frac",
                    "texture", "margin", "inliers", "method", "verdict", "reason"):
            row[key] = getattr(self, key)
        return row

    def source_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The source region as an (H, W) bool mask of the image's ``shape``."""
        return _paste(self.source_crop, self.source_box, shape)

    def target_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The target region as an (H, W) bool mask of the image's ``shape``."""
        return _paste(self.target_crop, self.target_box, shape)

    def instance_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Source and target together: one competition instance."""
        return self.source_mask(shape) | self.target_mask(shape)


@dataclass(frozen=True)
class Screened:
    """What the screen found in one image.

    ``status`` is ``"screened"``, or ``"too_small"`` / ``"too_flat"`` when the image
    could not be screened (then ``pairs`` is empty and ``reason`` says why).
    ``shape`` is the image's (H, W); ``keypoints`` the number of keypoints used
    (``method`` ``"sift"`` or ``"blocks"``, the dense fallback).
    """

    status: str
    reason: str
    shape: tuple[int, int]
    method: str
    keypoints: int
    pairs: list[ScreenPair]

    @property
    def copies(self) -> list[ScreenPair]:
        """The pairs whose verdict is ``"copy"``."""
        return [p for p in self.pairs if p.verdict == "copy"]

    def instances(self) -> list[np.ndarray]:
        """The baseline submission: one (H, W) mask per ``copy`` pair (source and target),
        in the order of :attr:`copies`; built once, then the same arrays are returned."""
        return self._instances

    @functools.cached_property
    def _instances(self) -> list[np.ndarray]:
        return [p.instance_mask(self.shape) for p in self.copies]

    def rows(self) -> list[dict[str, Any]]:
        """:meth:`ScreenPair.as_row` of every pair."""
        return [p.as_row() for p in self.pairs]


def screen_image(rgb: np.ndarray, max_side: int = 512, **tuning: Any) -> Screened:
    """Screen one image for duplicated regions, without mask or twin.

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) uint8 RGB, or (H, W) or (H, W, 1) uint8 gray.
    max_side : int
        Keypoints, clustering and regions run with the longest side at most this.
    **tuning
        Overrides of :data:`DEFAULT_TUNING`.

    Returns
    -------
    Screened
        Candidate pairs, best evidence first, copies before the others.

    Raises
    ------
    ImageError
        ``rgb`` is not a uint8 (H, W) or (H, W, 3) array.
    ConfigError
        A tuning key is unknown or its value of the wrong kind or range (see
        :func:`eda_lib.config.merge_tuning`), or ``max_side`` is below 32.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = cv2.GaussianBlur(rng.normal(128, 40, (160, 200)), (0, 0), 1.5)
    >>> image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    >>> image[90:140, 120:180] = np.fliplr(image[10:60, 20:80])
    >>> found = screen_image(image)
    >>> [(p.transform, p.verdict) for p in found.pairs]
    [('flip_h', 'copy')]
    """
    params = _merge_tuning(tuning)
    if not isinstance(max_side, int | np.integer) or max_side < 32:
        raise ConfigError(f"max_side must be an integer of at least 32, got {max_side!r}",
                          key="max_side")
    if isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 1:
        rgb = rgb[:, :, 0]  # one band: gray
    pixels = images.check_pixels(rgb, "rgb", bands=(1, 3))
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if min(h, w) < params["min_side"]:
        return Screened("too_small", f"shorter side {min(h, w)} px < {params['min_side']}",
                        (h, w), "none", 0, [])
    work, f = shrunk(gray, max_side, params["strip_side"])
    local_std = _local_std(work)
    share = float((local_std >= params["flat_std"]).mean())
    if share < params["flat_image_share"]:
        return Screened("too_flat", f"{share:.2%} of the pixels have local contrast",
                        (h, w), "none", 0, [])

    matches, n_points, method = sift_matches(work, params)
    if n_points < params["fallback_keypoints"]:
        matches, n_points, method = block_matches(work, params)
    clusters = vote(matches, work.shape, params)
    if params["dense"] == "always":
        clusters += dense_clusters(work, params)
    cands = _distinct(_candidates(work, local_std, clusters, params))
    pairs = _verify(gray, work, local_std, cands, f, params)
    if params["dense"] == "fallback" and not any(p.verdict == "copy" for p in pairs):
        more = _candidates(work, local_std, dense_clusters(work, params), params)
        pairs += _verify(gray, work, local_std, _distinct(cands + more)[len(cands) :], f,
                         params)
    pairs = _merged_parts(_drop_parts(pairs, params["copy_margin"]))
    pairs.sort(key=lambda p: (VERDICTS.index(p.verdict), -p.inliers))
    pairs = [replace(p, pair=i + 1, method=p.method or method) for i, p in enumerate(pairs)]
    return Screened("screened", "", (h, w), method, n_points, pairs)


# --------------------------------------------------------------------------- inputs


#: Tuning keys that must be above 0: sizes, steps and counts the screen divides by or
#: loops over.
_POSITIVE = frozenset({
    "min_side", "strip_side", "max_keypoints", "octave_layers", "sift_sigma", "neighbours",
    "inlier_px", "min_inliers", "max_clusters", "max_peaks", "hough_bin", "max_scale",
    "block_side", "max_block_matches", "block_max_side", "dense_max_side", "dense_radius",
    "dense_stride", "dense_projections", "dense_window", "dense_min_points",
    "dense_group_points", "stroke_px", "ring_frac", "drawn_levels",
})


def _merge_tuning(overrides: Mapping[str, Any]) -> dict[str, Any]:
    params = merge_tuning(DEFAULT_TUNING, overrides, "screening", _POSITIVE)
    if params["dense"] not in ("always", "fallback", "off"):
        raise ConfigError(f"dense must be 'always', 'fallback' or 'off', got {params['dense']!r}",
                          key="dense")
    return params


def _local_std(gray: np.ndarray, side: int = 5) -> np.ndarray:
    """Standard deviation of the gray levels over a ``side`` x ``side`` window, float32."""
    g = gray.astype(np.float32)
    mean = cv2.boxFilter(g, -1, (side, side), borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(g * g, -1, (side, side), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(sq - mean * mean, 0))


# --------------------------------------------------------------------------- transforms


def _snap(linear: np.ndarray, params: dict[str, Any]) -> tuple[str | None, float]:
    """Nearest transform name to a fitted 2x2 linear part, and its scale."""
    scale = math.sqrt(abs(float(np.linalg.det(linear))))
    if scale <= 0:
        return None, 0.0
    rot = linear / scale
    best, err = None, 9.0
    for name, lin in LINEAR_PARTS.items():
        e = float(np.abs(rot - lin).max())
        if e < err:
            best, err = name, e
    # the largest entry difference of two rotations by angle a is about sin(a)
    if err > math.sin(math.radians(params["snap_degrees"])):
        return None, scale
    if abs(scale - 1) < params["scale_snap"]:
        scale = 1.0
    return best, scale


# --------------------------------------------------------------------------- regions


@dataclass
class _Candidate:
    cluster: Cluster
    target: np.ndarray  # working-resolution bool mask
    source: np.ndarray
    area: int
    reason: str
    warped: np.ndarray | None = None  # the working image moved by the cluster's transform


def _region(work: np.ndarray, local_std: np.ndarray, c: Cluster, params: dict[str, Any]
            ) -> _Candidate | None:
    """Grow the target region where the warped source agrees; map it back to the source."""
    h, w = work.shape
    g = work.astype(np.float32)
    a = c.affine
    warped = cv2.warpAffine(g, a, (w, h), flags=cv2.INTER_LINEAR, borderValue=-1)
    valid = cv2.warpAffine(np.ones_like(g), a, (w, h), flags=cv2.INTER_NEAREST) > 0
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(c.q).astype(np.int32)), 1)
    x1, y1, x2, y2 = bbox(hull > 0)
    grow = max(8, round(0.6 * max(x2 - x1, y2 - y1)))
    rx1, ry1 = max(0, x1 - grow), max(0, y1 - grow)
    rx2, ry2 = min(w, x2 + grow + 1), min(h, y2 + grow + 1)
    roi = np.s_[ry1:ry2, rx1:rx2]
    gr, wr, vr, hr = g[roi], warped[roi], valid[roi], hull[roi] > 0
    core = hr & vr
    if core.sum() < 4:
        return None
    design = np.stack([wr[core], np.ones(int(core.sum()), np.float32)], axis=1)
    coef, *_ = np.linalg.lstsq(design, gr[core], rcond=None)
    diff = np.abs(wr * coef[0] + coef[1] - gr)
    diff[~vr] = 255
    diff = cv2.blur(diff, (5, 5))
    # a copy differs from its source by noise and compression only; unrelated content
    # by about its own local contrast
    contrast = float(np.median(local_std[roi][core]))
    tol = min(max(params["agree_tol"], 2.0 * float(np.median(diff[core]))),
              max(1.0, params["agree_contrast"] * contrast))
    textured = local_std[roi] >= params["flat_std"]
    agree = (diff <= tol) & (textured | cv2.dilate(hr.astype(np.uint8), np.ones((5, 5))) > 0)
    agree &= vr
    n, labels = cv2.connectedComponents(agree.astype(np.uint8), connectivity=8)
    seeds = np.unique(labels[core & agree])
    seeds = seeds[seeds > 0]
    region = np.isin(labels, seeds)
    # the inliers' hull counts whole only where agreement is sparse (heavy JPEG):
    # one stray inlier must not stretch a region over unrelated content
    if (core & agree).sum() < 0.5 * core.sum():
        region |= core
    region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE,
                              np.ones((5, 5), np.uint8)) > 0
    region = _fill_holes(region)
    target = np.zeros((h, w), bool)
    target[roi] = region
    source = cv2.warpAffine(target.astype(np.uint8), a, (w, h), flags=cv2.INTER_NEAREST
                            | cv2.WARP_INVERSE_MAP) > 0
    if not source.any():
        return None
    return _Candidate(c, target, source, int(target.sum()), "")


def _candidates(work: np.ndarray, local_std: np.ndarray, clusters: list[Cluster],
                params: dict[str, Any]) -> list[_Candidate]:
    """The regions of the clusters, largest first."""
    cands = [c for c in (_region(work, local_std, c, params) for c in clusters) if c]
    return sorted(cands, key=lambda c: -c.area)


def _distinct(cands: list[_Candidate]) -> list[_Candidate]:
    """Drop candidates that repeat a kept one (the same two regions, either way round)."""
    kept: list[_Candidate] = []
    for c in cands:
        tb, sb = bbox(c.target), bbox(c.source)
        if not any((box_iou(tb, bbox(k.target)) > 0.5 and box_iou(sb, bbox(k.source)) > 0.5)
                   or (box_iou(tb, bbox(k.source)) > 0.5 and box_iou(sb, bbox(k.target)) > 0.5)
                   for k in kept):
            kept.append(c)
    return kept


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return (padded | (flood == 0))[1:-1, 1:-1].astype(bool)


# --------------------------------------------------------------------------- controls


def _control(work: np.ndarray, local_std: np.ndarray, cand: _Candidate,
             params: dict[str, Any]) -> str:
    """The false-positive control a candidate fails, or ''."""
    t, s = cand.target, cand.source
    inter = int((t & s).sum())
    smaller = min(int(t.sum()), int(s.sum()))
    (tx1, ty1, tx2, ty2), (sx1, sy1, sx2, sy2) = bbox(t), bbox(s)
    shift = math.hypot((tx1 + tx2 - sx1 - sx2) / 2, (ty1 + ty2 - sy1 - sy2) / 2)
    size = math.sqrt(smaller)
    close = inter > params["max_overlap"] * smaller or shift < params["min_shift_frac"] * size
    if close and shift >= params["min_shift"] and (
            _ring_ncc(work, cand, params) >= params["periodic_ncc"]):
        return "periodic"  # the agreement spread over a repeating pattern
    if close:
        return "too_close"
    glyph = _glyph_kind(work, local_std, t, params)
    if glyph:
        return glyph
    if _ink_only(work, cand, params):
        return "text"
    if float((local_std[t] >= params["flat_std"]).mean()) < params["textured_share"]:
        return "flat"
    if _ring_ncc(work, cand, params) >= params["periodic_ncc"]:
        return "periodic"
    return ""


def _glyph_kind(work: np.ndarray, local_std: np.ndarray, t: np.ndarray,
                params: dict[str, Any]) -> str:
    """``"scale_bar"``, ``"text"`` or '' for the region ``t`` (see the module docstring).

    Background: flat pixels (local contrast below ``flat_std``) within 6 gray levels of
    the commonest level of the region's flat pixels.
    """
    flat = t & (local_std < params["flat_std"])
    hist = np.bincount(work[flat if flat.sum() >= 0.1 * t.sum() else t],
                       minlength=256).astype(float)
    mode = int(np.argmax(np.convolve(hist, np.ones(5), mode="same")))
    x1, y1, x2, y2 = bbox(t)
    crop = np.s_[y1 : y2 + 1, x1 : x2 + 1]
    k = params["stroke_px"]
    near = np.abs(work[crop].astype(int) - mode) <= 6
    # background: at the commonest level and flat, or beside strong ink (the edge of
    # a glyph is not flat, but a texture has no ink 40 levels off its commonest level)
    ink = (np.abs(work[crop].astype(int) - mode) > 40).astype(np.uint8)
    beside = cv2.dilate(ink, np.ones((5, 5), np.uint8)) > 0
    background = t[crop] & near & ((local_std[crop] < params["flat_std"]) | beside)
    if background.sum() < params["background_share"] * t.sum():
        return ""
    fg = (t[crop] & ~near).astype(np.uint8)
    # drawn graphics have one ink level besides the background; micrographs a range
    values = work[crop][fg > 0].astype(int)
    hist = np.bincount(values, minlength=256).astype(float)
    ink_mode = int(np.argmax(np.convolve(hist, np.ones(5), mode="same")))
    two_level = (int(background.sum()) + int((np.abs(values - ink_mode) <= 10).sum())
                 >= params["two_level_share"] * t.sum())
    if fg.sum() < 4:
        return ""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    big = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    bw, bh, area = stats[big, 2], stats[big, 3], stats[big, 4]
    if (area >= 0.7 * fg.sum() and area >= 0.8 * bw * bh
            and max(bw, bh) >= 3 * min(bw, bh)):
        return "scale_bar"
    return "text" if two_level or _thin(fg, k, params) else ""


def _drawn(gray: np.ndarray, box: Box, region: np.ndarray, params: dict[str, Any]) -> bool:
    """Whether a full-resolution region (``region``, the crop of ``box``) is drawn:
    ``drawn_levels`` gray levels (+-4, taken commonest first) hold ``drawn_share`` of
    its pixels, and a 5 x 5 erosion removes ``drawn_thin`` of its textured pixels
    (local contrast of at least ``flat_std``): flat fills, and texture only on the
    lines between them."""
    x1, y1, x2, y2 = box
    g = gray[y1 : y2 + 1, x1 : x2 + 1]
    t = region.astype(bool)
    hist = np.bincount(g[t], minlength=256)
    window = np.convolve(hist, np.ones(9), mode="same")
    used = np.zeros(256, bool)
    covered = 0
    for _ in range(params["drawn_levels"]):
        i = int(np.argmax(np.where(used, -1, window)))
        lo, hi = max(0, i - 4), min(255, i + 4)
        covered += int(hist[lo : hi + 1][~used[lo : hi + 1]].sum())
        used[lo : hi + 1] = True
    if covered < params["drawn_share"] * int(t.sum()):
        return False
    textured = (t & (_local_std(g) >= params["flat_std"])).astype(np.uint8)
    core = cv2.erode(textured, np.ones((5, 5), np.uint8))
    return bool(core.sum() <= (1 - params["drawn_thin"]) * textured.sum())


def _thin(mask: np.ndarray, k: int, params: dict[str, Any]) -> bool:
    """Whether an erosion by a k x k square removes ``stroke_removed`` of ``mask``:
    strokes at most about k - 1 pixels wide."""
    core = cv2.erode(mask, np.ones((k, k), np.uint8))
    return bool(core.sum() <= (1 - params["stroke_removed"]) * mask.sum())


def _warped(work: np.ndarray, cand: _Candidate) -> np.ndarray:
    """The working image moved by the candidate's transform (-1 where nothing lands)."""
    if cand.warped is None:
        h, w = work.shape
        cand.warped = cv2.warpAffine(work.astype(np.float32), cand.cluster.affine, (w, h),
                                     flags=cv2.INTER_LINEAR, borderValue=-1)
    return cand.warped


def _ink_only(work: np.ndarray, cand: _Candidate, params: dict[str, Any]) -> bool:
    """Whether the two regions agree on their drawn ink only (labels on a picture).

    Ink: pixels of either region within ``ink_levels`` of black or white that have a
    gray level at least ``ink_contrast`` away within 2 px (the strokes of a label,
    not a dark background), dilated by ``ink_margin`` px (anti-aliased edges, JPEG
    ringing). When ink covers at
    least ``ink_share`` of the target region, the rest of it must agree too (NCC of
    at least ``ink_rest_ncc``): a label drawn twice on different content matches on
    its strokes only, while a copied region that holds a label carries its
    surroundings along. A region that is nothing but ink is drawn, not imaged.
    """
    t = cand.target
    x1, y1, x2, y2 = bbox(t)
    crop = np.s_[y1 : y2 + 1, x1 : x2 + 1]
    a = work[crop].astype(np.float32)
    b = _warped(work, cand)[crop]
    lv, box = params["ink_levels"], np.ones((5, 5), np.uint8)
    ink = np.zeros(a.shape, bool)
    for img in (a, np.where(b >= 0, b, a)):
        spread = cv2.dilate(img, box) - cv2.erode(img, box)
        ink |= ((img <= lv) | (img >= 255 - lv)) & (spread >= params["ink_contrast"])
    k = 2 * params["ink_margin"] + 1
    ink = cv2.dilate(ink.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    region = t[crop] & (b >= 0)
    n = int(region.sum())
    if n == 0 or (ink & region).sum() < params["ink_share"] * n:
        return False
    rest = region & ~ink
    if rest.sum() < max(16, params["ink_share"] * n):
        return True
    u, v = a[rest].astype(np.float64), b[rest].astype(np.float64)
    u -= u.mean()
    v -= v.mean()
    den = math.sqrt(float((u * u).sum() * (v * v).sum()))
    return (float((u * v).sum() / den) if den > 0 else 0.0) < params["ink_rest_ncc"]


def _ring_ncc(work: np.ndarray, cand: _Candidate, params: dict[str, Any]) -> float:
    """NCC of the ring around the target with the ring mapped from around the source."""
    h, w = work.shape
    t = cand.target
    x1, y1, x2, y2 = bbox(t)
    width = max(3, round(params["ring_frac"] * max(x2 - x1 + 1, y2 - y1 + 1)))
    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    ring = (cv2.dilate(t.astype(np.uint8), k) > 0) & ~t & ~cand.source
    g = work.astype(np.float32)
    warped = _warped(work, cand)
    ring &= warped >= 0
    if ring.sum() < 16:
        return 0.0
    a, b = g[ring].astype(np.float64), warped[ring].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


# --------------------------------------------------------------------------- verification


def _verify(gray: np.ndarray, work: np.ndarray, local_std: np.ndarray,
            cands: list[_Candidate], f: float, params: dict[str, Any]) -> list[ScreenPair]:
    """Controls, then copymove's dense scores at full resolution, then the verdict.

    A pair a control rejects is not verified (its scores stay None, its transform and
    scale are the fitted ones): verification costs more than everything before it.
    """
    h, w = gray.shape
    todo = []
    for cand in cands:
        cand.reason = _control(work, local_std, cand, params)
        name, scale = _snap(cand.cluster.affine[:, :2], params)
        found = _upsample(cand.target, (h, w), f)
        if found is None:
            continue
        tbox, tcrop = found
        if name is None:
            cand.reason = cand.reason or "free_rotation"
        sbox = _source_box(cand, tbox, name or "identity", scale if name else 1.0, f, (h, w))
        todo.append((cand, tcrop, tbox, sbox, name, scale))
    # of the candidates passing the controls, the largest max_pairs are verified and
    # the others dropped
    passing = [k for k, t in enumerate(todo) if t[0].reason in ("", "free_rotation")]
    drop = set(passing[params["max_pairs"] :])
    todo = [t for k, t in enumerate(todo) if k not in drop]
    check = [k for k, t in enumerate(todo) if t[0].reason in ("", "free_rotation")]
    # each target region is made at the image's size only while it is verified: on a
    # 10 MP image one is 10 MB, and an image can have a dozen candidates
    checked = copymove.verify_pairs(
        gray, ((_paste(todo[k][1], todo[k][2], (h, w)), todo[k][3]) for k in check)
    ) if check else []
    results: dict[int, Any] = dict(zip(check, checked))
    residual = _Residual(gray)
    pairs = []
    for k, (cand, tcrop, tbox, sbox, name, scale) in enumerate(todo):
        res = results.get(k)
        reason = cand.reason
        scores: dict[str, Any] = dict.fromkeys(
            ("ncc", "residual_ncc", "identical_frac", "texture", "margin"))
        transform, src_box = name, sbox
        if res is not None:
            scores = {key: getattr(res, key) for key in scores}
            transform, scale, src_box = res.transform, res.scale, res.source_box or sbox
            if not reason and res.texture is not None and res.texture < copymove.TEXTURE_MIN:
                reason = "flat"
        if reason == "free_rotation":
            verdict = "unsure"
        elif reason:
            verdict = "rejected"
        elif (scores["ncc"] is not None and scores["ncc"] >= params["copy_ncc"]
              and scores["residual_ncc"] >= params["copy_residual_ncc"]
              and scores["margin"] is not None
              and (scores["margin"] >= params["copy_margin"]
                   or _location_margin(residual, tbox, src_box, transform, scale)
                   >= params["copy_location_margin"])):
            verdict = "copy"
        else:
            verdict, reason = "unsure", "weak_match"
        if verdict == "copy" and _drawn(gray, tbox, tcrop, params):
            verdict, reason = "rejected", "text"  # chart elements drawn twice
        if res is not None and params["region_grow"] > 0:
            tbox, tcrop, src_box = _grown(cand, tbox, src_box, transform or "identity",
                                          scale or 1.0, f, (h, w), params["region_grow"])
        scrop = _source_crop(tcrop, transform or "identity", src_box)
        pairs.append(ScreenPair(
            pair=0, source_box=src_box, target_box=tbox, roles="undecided",
            transform=transform, scale=scale, **scores,
            inliers=distinct_points(cand.cluster.q), method=cand.cluster.method,
            verdict=verdict, reason=reason, source_crop=scrop, target_crop=tcrop,
        ))
    return pairs


class _Residual:
    """The gray image's noise residual (minus its Gaussian blur, sigma 2), made on first
    use at a longest side of at most :data:`RESIDUAL_SIDE` px (``f``: that factor)."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self.f = min(1.0, RESIDUAL_SIDE / max(gray.shape))

    @functools.cached_property
    def image(self) -> np.ndarray:
        g = shrunk(self.gray, RESIDUAL_SIDE)[0].astype(np.float32)
        return g - cv2.GaussianBlur(g, (0, 0), 2.0)


#: Longest side of the residual image that :func:`_location_margin` searches.
RESIDUAL_SIDE = 1024


def _location_margin(residual: _Residual, tbox: Box, sbox: Box, transform: str | None,
                     scale: float | None) -> float:
    """How much better the target's noise residual matches at the source than anywhere
    else: the residual NCC of the target box (brought into the source's orientation
    and size) at the source, minus its best NCC over the rest of the image (the
    neighbourhoods of both ends left out, half a box either way). A copied region
    carries its grain to one place only; a band or blot that merely looks like
    another matches a third as well. -1 when nothing else is left to compare with."""
    r, f = residual.image, residual.f
    (tx1, ty1, tx2, ty2), (sx1, sy1, sx2, sy2) = (
        tuple(round(v * f) for v in box) for box in (tbox, sbox))
    sw, sh = sx2 - sx1 + 1, sy2 - sy1 + 1
    rh, rw = r.shape
    if min(sw, sh, tx2 - tx1 + 1, ty2 - ty1 + 1) < 4 or sw >= rw or sh >= rh:
        return -1.0
    template = apply_transform(r[ty1 : ty2 + 1, tx1 : tx2 + 1],
                               inverse_transform(transform or "identity"))
    if template.shape != (sh, sw):
        template = cv2.resize(template, (sw, sh), interpolation=cv2.INTER_AREA)
    ncc = cv2.matchTemplate(r, np.ascontiguousarray(template), cv2.TM_CCOEFF_NORMED)
    mh, mw = ncc.shape
    y, x = min(sy1, mh - 1), min(sx1, mw - 1)
    at = float(ncc[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].max())
    for ex, ey in ((sx1, sy1), (tx1, ty1)):
        ncc[max(0, ey - sh // 2) : ey + sh // 2 + 1, max(0, ex - sw // 2) : ex + sw // 2 + 1] = -2
    elsewhere = float(ncc.max())
    return -1.0 if elsewhere <= -2 else at - elsewhere


def _drop_parts(pairs: list[ScreenPair],
                copy_margin: float = DEFAULT_TUNING["copy_margin"]) -> list[ScreenPair]:
    """Drop the copies that are a part of another copy: those of method ``"dense"`` and
    those made copies by their location margin alone (``margin`` under ``copy_margin``).

    The dense field often finds a part of a copy that the keypoints found whole; a
    ``copy`` pair of method ``"dense"`` whose two boxes lie at least half inside the
    two boxes of a larger ``copy`` pair (either way round) repeats it. The keypoints
    too find a part of a copy the field finds whole: a smaller keypoint pair covering
    half of a dense one does not make the dense one a part. A part of a copy found
    under a wrong transform has a weak margin and, its grain being the copy's, a
    strong location margin: it repeats the copy as well.
    """
    def inside(a: Box, b: Box) -> bool:
        w = min(a[2], b[2]) - max(a[0], b[0]) + 1
        h = min(a[3], b[3]) - max(a[1], b[1]) + 1
        return max(w, 0) * max(h, 0) >= 0.5 * (a[2] - a[0] + 1) * (a[3] - a[1] + 1)

    def part_of(p: ScreenPair, k: ScreenPair) -> bool:
        return k is not p and _area(k) > _area(p) and (
            (inside(p.source_box, k.source_box) and inside(p.target_box, k.target_box))
            or (inside(p.source_box, k.target_box) and inside(p.target_box, k.source_box)))

    def droppable(p: ScreenPair) -> bool:
        return p.verdict == "copy" and (p.method == "dense" or (
            p.margin is not None and p.margin < copy_margin))

    copies = [p for p in pairs if p.verdict == "copy"]
    return [p for p in pairs if not (droppable(p) and any(part_of(p, k) for k in copies))]


def _area(p: ScreenPair) -> int:
    """The pair's two boxes' areas, summed: which of two pairs is the larger."""
    return sum((b[2] - b[0] + 1) * (b[3] - b[1] + 1) for b in (p.source_box, p.target_box))


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _mapped(p: ScreenPair, x: float, y: float) -> tuple[float, float]:
    """Where the pair's transform and scale take the point ``(x, y)`` of its source side,
    the centre of the source box going to the centre of the target box."""
    (a, b), (c, d) = LINEAR_PARTS[p.transform or "identity"]  # offsets from the boxes' centres
    s = p.scale or 1.0
    (sx, sy), (tx, ty) = _centre(p.source_box), _centre(p.target_box)
    u, v = x - sx, y - sy
    return tx + s * (a * u + b * v), ty + s * (c * u + d * v)


def _swapped(p: ScreenPair) -> ScreenPair:
    """The same pair read the other way round: target to source."""
    return replace(p, source_box=p.target_box, target_box=p.source_box,
                   transform=inverse_transform(p.transform or "identity"),
                   scale=1 / p.scale if p.scale else p.scale,
                   source_crop=p.target_crop, target_crop=p.source_crop)


def _part_of(whole: ScreenPair, p: ScreenPair) -> ScreenPair | None:
    """``p`` oriented as ``whole`` (ends swapped when it runs the other way) when it is a
    part of the duplication ``whole`` describes, else None.

    A part: under the same transform and scale (within 10 %) its source centre goes
    where ``whole``'s transform takes it (within a fifth of its target box's longer
    side, at least 4 px), and each of its boxes overlaps or touches the same end of
    ``whole`` grown by a quarter of that end's size. A flip is its own inverse, so
    both ways round can fit: the one whose ends lie nearer ``whole``'s is taken.
    """
    best, best_d = None, math.inf
    for q in (p, _swapped(p)):
        if q.transform != whole.transform or not (
                0.9 <= (q.scale or 1.0) / (whole.scale or 1.0) <= 1 / 0.9):
            continue
        tw, th = q.target_box[2] - q.target_box[0] + 1, q.target_box[3] - q.target_box[1] + 1
        mx, my = _mapped(whole, *_centre(q.source_box))
        cx, cy = _centre(q.target_box)
        if math.hypot(mx - cx, my - cy) > max(4.0, 0.2 * max(tw, th)):
            continue
        if not (_touch(q.source_box, whole.source_box)
                and _touch(q.target_box, whole.target_box)):
            continue
        d = sum(math.dist(_centre(a), _centre(b)) for a, b in (
            (q.source_box, whole.source_box), (q.target_box, whole.target_box)))
        if d < best_d:
            best, best_d = q, d
    return best


def _touch(a: Box, b: Box) -> bool:
    """Whether box ``a`` meets box ``b`` grown by a quarter of ``b``'s size each way."""
    gx, gy = (b[2] - b[0] + 1) / 4, (b[3] - b[1] + 1) / 4
    return not (a[2] < b[0] - gx or a[0] > b[2] + gx or a[3] < b[1] - gy or a[1] > b[3] + gy)


def _union(box_a: Box, crop_a: np.ndarray, box_b: Box, crop_b: np.ndarray
           ) -> tuple[Box, np.ndarray]:
    """Two region crops (each of its box) as one crop of the boxes' union box."""
    box = (min(box_a[0], box_b[0]), min(box_a[1], box_b[1]),
           max(box_a[2], box_b[2]), max(box_a[3], box_b[3]))
    out = np.zeros((box[3] - box[1] + 1, box[2] - box[0] + 1), bool)
    for (x1, y1, x2, y2), crop in ((box_a, crop_a), (box_b, crop_b)):
        out[y1 - box[1] : y2 - box[1] + 1, x1 - box[0] : x2 - box[0] + 1] |= crop[
            : y2 - y1 + 1, : x2 - x1 + 1]
    return box, out


def _merged_parts(pairs: list[ScreenPair]) -> list[ScreenPair]:
    """Merge each ``copy`` pair that is a part of a larger ``copy`` into it.

    The keypoints and the dense field often find one duplicated region as several
    pairs: pieces of it, or the whole and a piece, either way round. They share one
    transform (:func:`_part_of`), and a piece reported as a pair of its own is a false
    instance for the competition's metric (one duplication, one instance, as the
    training masks have it). The larger pair keeps its scores and verdict; its regions
    become the union of both pairs' (the piece turned round when it runs the other
    way), its inliers the sum. Pairs that are not copies are left as they are.
    """
    out = list(pairs)
    gone: set[int] = set()
    kept: list[int] = []
    for i in sorted((i for i, p in enumerate(pairs) if p.verdict == "copy"),
                    key=lambda i: -_area(pairs[i])):
        for k in kept:
            part = _part_of(out[k], pairs[i])
            if part is None:
                continue
            whole = out[k]
            sbox, scrop = _union(whole.source_box, whole.source_crop, part.source_box,
                                 part.source_crop)
            tbox, tcrop = _union(whole.target_box, whole.target_crop, part.target_box,
                                 part.target_crop)
            out[k] = replace(whole, source_box=sbox, target_box=tbox, source_crop=scrop,
                             target_crop=tcrop, inliers=whole.inliers + part.inliers)
            gone.add(i)
            break
        else:
            kept.append(i)
    return [p for i, p in enumerate(out) if i not in gone]


def _upsample(mask: np.ndarray, shape: tuple[int, int], f: float
              ) -> tuple[Box, np.ndarray] | None:
    """A working-resolution mask at full resolution, as its inclusive box and the crop
    of that box (the full-size mask is never made); None for an empty mask."""
    box = bbox(mask)
    if box is None:
        return None
    x1, y1, x2, y2 = box
    crop = mask[y1 : y2 + 1, x1 : x2 + 1]
    if f != 1.0:
        h, w = shape
        fx1, fy1 = math.floor(x1 / f), math.floor(y1 / f)
        fx2 = min(w - 1, math.ceil((x2 + 1) / f) - 1)
        fy2 = min(h - 1, math.ceil((y2 + 1) / f) - 1)
        crop = cv2.resize(crop.astype(np.uint8), (fx2 - fx1 + 1, fy2 - fy1 + 1),
                          interpolation=cv2.INTER_NEAREST) > 0
        x1, y1 = fx1, fy1
    inner = bbox(crop)
    if inner is None:
        return None
    cx1, cy1, cx2, cy2 = inner
    return ((x1 + cx1, y1 + cy1, x1 + cx2, y1 + cy2),
            np.ascontiguousarray(crop[cy1 : cy2 + 1, cx1 : cx2 + 1]))


def _grown(cand: _Candidate, tbox: Box, sbox: Box, transform: str, scale: float, f: float,
           shape: tuple[int, int], px: int) -> tuple[Box, np.ndarray, Box]:
    """A verified pair's target region grown by ``px`` working pixels (where its
    source stays inside the image) at full resolution, as its box and crop, and the
    source box grown to match: ``sbox`` moved out by the target box's growth, with the
    transform undone and divided by ``scale``."""
    inside = cv2.warpAffine(np.ones(cand.target.shape, np.uint8), cand.cluster.affine,
                            cand.target.shape[::-1], flags=cv2.INTER_NEAREST) > 0
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    grown = (cv2.dilate(cand.target.astype(np.uint8), kernel) > 0) & inside | cand.target
    gbox, gcrop = cast(tuple[Box, np.ndarray], _upsample(grown, shape, f))  # not empty
    # the old target box inside the grown one, in the source's orientation: its
    # margins there are the source box's growth before the scale
    old = np.zeros(gcrop.shape, np.uint8)
    old[tbox[1] - gbox[1] : tbox[3] - gbox[1] + 1, tbox[0] - gbox[0] : tbox[2] - gbox[0] + 1] = 1
    back = apply_transform(old, inverse_transform(transform))
    bx1, by1, bx2, by2 = cast(Box, bbox(back > 0))
    bh, bw = back.shape
    h, w = shape
    x1, y1, x2, y2 = sbox
    return gbox, gcrop, (max(0, round(x1 - bx1 / scale)), max(0, round(y1 - by1 / scale)),
                         min(w - 1, round(x2 + (bw - 1 - bx2) / scale)),
                         min(h - 1, round(y2 + (bh - 1 - by2) / scale)))


def _source_box(cand: _Candidate, tbox: Box, name: str, scale: float, f: float,
                shape: tuple[int, int]) -> Box:
    """The box the target box comes from under the snapped transform and scale."""
    tw, th = tbox[2] - tbox[0] + 1, tbox[3] - tbox[1] + 1
    if name in ("rot90", "rot270", "transpose", "anti_transpose"):
        tw, th = th, tw
    sw, sh = max(1, round(tw / scale)), max(1, round(th / scale))
    cx, cy = (tbox[0] + tbox[2] + 1) / 2 * f, (tbox[1] + tbox[3] + 1) / 2 * f
    inv = cv2.invertAffineTransform(cand.cluster.affine)
    scx, scy = (inv @ np.array([cx, cy, 1.0])) / f
    h, w = shape
    x1 = int(np.clip(round(scx - sw / 2), 0, max(0, w - sw)))
    y1 = int(np.clip(round(scy - sh / 2), 0, max(0, h - sh)))
    return (x1, y1, min(w - 1, x1 + sw - 1), min(h - 1, y1 + sh - 1))


def _source_crop(tcrop: np.ndarray, transform: str, sbox: Box) -> np.ndarray:
    """The target's region brought back to the source box (transform undone, resized)."""
    back = np.ascontiguousarray(apply_transform(tcrop, inverse_transform(transform)))
    sw, sh = sbox[2] - sbox[0] + 1, sbox[3] - sbox[1] + 1
    if back.shape != (sh, sw):
        back = cv2.resize(back.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    return back


def _paste(crop: np.ndarray, box: Box, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    x1, y1, x2, y2 = box
    out[y1 : y2 + 1, x1 : x2 + 1] = crop[: y2 - y1 + 1, : x2 - x1 + 1]
    return out
