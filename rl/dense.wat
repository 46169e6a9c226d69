(module
  (memory (export "memory") 16)
  ;; y[r][o] = b[o] + sum_i W[o][i] * x[r][i]; rows four at a time, outputs two at a time.
  (func (export "fwd") (param $W i32) (param $b i32) (param $x i32) (param $y i32)
        (param $rows i32) (param $in i32) (param $out i32)
    (local $r i32) (local $o i32) (local $i i32) (local $in2 i32)
    (local $wrow i32) (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $w v128)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64) (local $ws f64) (local $bias f64)
    (local $rowb i32) (local $yrow i32)
    (local $wrow1 i32) (local $ib i32) (local $w1 v128) (local $xv v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local.set $in2 (i32.and (local.get $in) (i32.const -2)))
    (local.set $rowb (i32.shl (local.get $in) (i32.const 3)))
    (local.set $r (i32.const 0))
    (block $rdone
      (loop $rloop
        (br_if $rdone (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $x1 (i32.add (local.get $x0) (local.get $rowb)))
        (local.set $x2 (i32.add (local.get $x1) (local.get $rowb)))
        (local.set $x3 (i32.add (local.get $x2) (local.get $rowb)))
        (local.set $yrow (i32.add (local.get $y) (i32.shl (i32.mul (local.get $r) (local.get $out)) (i32.const 3))))
        (local.set $o (i32.const 0))
        ;; two outputs at a time: eight independent accumulators, each x segment loaded once for both
        (block $o2done
          (loop $o2loop
            (br_if $o2done (i32.gt_s (i32.add (local.get $o) (i32.const 2)) (local.get $out)))
            (local.set $wrow (i32.add (local.get $W) (i32.mul (local.get $o) (local.get $rowb))))
            (local.set $wrow1 (i32.add (local.get $wrow) (local.get $rowb)))
            (local.set $a0 (v128.const f64x2 0 0))
            (local.set $c0 (v128.const f64x2 0 0))
            (local.set $a1 (v128.const f64x2 0 0))
            (local.set $c1 (v128.const f64x2 0 0))
            (local.set $a2 (v128.const f64x2 0 0))
            (local.set $c2 (v128.const f64x2 0 0))
            (local.set $a3 (v128.const f64x2 0 0))
            (local.set $c3 (v128.const f64x2 0 0))
            (local.set $i (i32.const 0))
            (block $i2done
              (loop $i2loop
                (br_if $i2done (i32.ge_s (local.get $i) (local.get $in2)))
                (local.set $ib (i32.shl (local.get $i) (i32.const 3)))
                (local.set $w (v128.load (i32.add (local.get $wrow) (local.get $ib))))
                (local.set $w1 (v128.load (i32.add (local.get $wrow1) (local.get $ib))))
                (local.set $xv (v128.load (i32.add (local.get $x0) (local.get $ib))))
                (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $w) (local.get $xv))))
                (local.set $c0 (f64x2.add (local.get $c0) (f64x2.mul (local.get $w1) (local.get $xv))))
                (local.set $xv (v128.load (i32.add (local.get $x1) (local.get $ib))))
                (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $w) (local.get $xv))))
                (local.set $c1 (f64x2.add (local.get $c1) (f64x2.mul (local.get $w1) (local.get $xv))))
                (local.set $xv (v128.load (i32.add (local.get $x2) (local.get $ib))))
                (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $w) (local.get $xv))))
                (local.set $c2 (f64x2.add (local.get $c2) (f64x2.mul (local.get $w1) (local.get $xv))))
                (local.set $xv (v128.load (i32.add (local.get $x3) (local.get $ib))))
                (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $w) (local.get $xv))))
                (local.set $c3 (f64x2.add (local.get $c3) (f64x2.mul (local.get $w1) (local.get $xv))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $i2loop)))
            (local.set $bias (f64.load (i32.add (local.get $b) (i32.shl (i32.add (local.get $o) (i32.const 0)) (i32.const 3)))))
            (local.set $s0 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))))
            (local.set $s1 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
            (local.set $s2 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))))
            (local.set $s3 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $ws (f64.load (i32.add (local.get $wrow) (i32.shl (local.get $in2) (i32.const 3)))))
                (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x0) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x1) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s2 (f64.add (local.get $s2) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x2) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s3 (f64.add (local.get $s3) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x3) (i32.shl (local.get $in2) (i32.const 3)))))))))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (local.get $o) (i32.const 0)) (i32.const 3))) (local.get $s0))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 0)) (local.get $out)) (i32.const 3))) (local.get $s1))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 0)) (i32.shl (local.get $out) (i32.const 1))) (i32.const 3))) (local.get $s2))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 0)) (i32.mul (local.get $out) (i32.const 3))) (i32.const 3))) (local.get $s3))
            (local.set $bias (f64.load (i32.add (local.get $b) (i32.shl (i32.add (local.get $o) (i32.const 1)) (i32.const 3)))))
            (local.set $s0 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $c0)) (f64x2.extract_lane 1 (local.get $c0)))))
            (local.set $s1 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $c1)) (f64x2.extract_lane 1 (local.get $c1)))))
            (local.set $s2 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $c2)) (f64x2.extract_lane 1 (local.get $c2)))))
            (local.set $s3 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $c3)) (f64x2.extract_lane 1 (local.get $c3)))))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $ws (f64.load (i32.add (local.get $wrow1) (i32.shl (local.get $in2) (i32.const 3)))))
                (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x0) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x1) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s2 (f64.add (local.get $s2) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x2) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s3 (f64.add (local.get $s3) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x3) (i32.shl (local.get $in2) (i32.const 3)))))))))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (local.get $o) (i32.const 1)) (i32.const 3))) (local.get $s0))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 1)) (local.get $out)) (i32.const 3))) (local.get $s1))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 1)) (i32.shl (local.get $out) (i32.const 1))) (i32.const 3))) (local.get $s2))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (i32.add (local.get $o) (i32.const 1)) (i32.mul (local.get $out) (i32.const 3))) (i32.const 3))) (local.get $s3))
            (local.set $o (i32.add (local.get $o) (i32.const 2)))
            (br $o2loop)))
        ;; a last odd output
        (block $odone
          (loop $oloop
            (br_if $odone (i32.ge_s (local.get $o) (local.get $out)))
            (local.set $wrow (i32.add (local.get $W) (i32.mul (local.get $o) (local.get $rowb))))
            (local.set $a0 (v128.const f64x2 0 0))
            (local.set $a1 (v128.const f64x2 0 0))
            (local.set $a2 (v128.const f64x2 0 0))
            (local.set $a3 (v128.const f64x2 0 0))
            (local.set $i (i32.const 0))
            (block $idone
              (loop $iloop
                (br_if $idone (i32.ge_s (local.get $i) (local.get $in2)))
                (local.set $w (v128.load (i32.add (local.get $wrow) (i32.shl (local.get $i) (i32.const 3)))))
                (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $w)
                  (v128.load (i32.add (local.get $x0) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $w)
                  (v128.load (i32.add (local.get $x1) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $w)
                  (v128.load (i32.add (local.get $x2) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $w)
                  (v128.load (i32.add (local.get $x3) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $iloop)))
            (local.set $bias (f64.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 3)))))
            (local.set $s0 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))))
            (local.set $s1 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
            (local.set $s2 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))))
            (local.set $s3 (f64.add (local.get $bias) (f64.add (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $ws (f64.load (i32.add (local.get $wrow) (i32.shl (local.get $in2) (i32.const 3)))))
                (local.set $s0 (f64.add (local.get $s0) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x0) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s1 (f64.add (local.get $s1) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x1) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s2 (f64.add (local.get $s2) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x2) (i32.shl (local.get $in2) (i32.const 3)))))))
                (local.set $s3 (f64.add (local.get $s3) (f64.mul (local.get $ws) (f64.load (i32.add (local.get $x3) (i32.shl (local.get $in2) (i32.const 3)))))))))
            (f64.store (i32.add (local.get $yrow) (i32.shl (local.get $o) (i32.const 3))) (local.get $s0))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (local.get $o) (local.get $out)) (i32.const 3))) (local.get $s1))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (local.get $o) (i32.shl (local.get $out) (i32.const 1))) (i32.const 3))) (local.get $s2))
            (f64.store (i32.add (local.get $yrow) (i32.shl (i32.add (local.get $o) (i32.mul (local.get $out) (i32.const 3))) (i32.const 3))) (local.get $s3))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $oloop)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rloop)))
    ;; leftover rows one at a time
    (block $r1done
      (loop $r1loop
        (br_if $r1done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $yrow (i32.add (local.get $y) (i32.shl (i32.mul (local.get $r) (local.get $out)) (i32.const 3))))
        (local.set $o (i32.const 0))
        (block $o1done
          (loop $o1loop
            (br_if $o1done (i32.ge_s (local.get $o) (local.get $out)))
            (local.set $wrow (i32.add (local.get $W) (i32.mul (local.get $o) (local.get $rowb))))
            (local.set $a0 (v128.const f64x2 0 0))
            (local.set $i (i32.const 0))
            (block $i1done
              (loop $i1loop
                (br_if $i1done (i32.ge_s (local.get $i) (local.get $in2)))
                (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul
                  (v128.load (i32.add (local.get $wrow) (i32.shl (local.get $i) (i32.const 3))))
                  (v128.load (i32.add (local.get $x0) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $i1loop)))
            (local.set $s0 (f64.add (f64.load (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 3))))
              (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $s0 (f64.add (local.get $s0) (f64.mul
                  (f64.load (i32.add (local.get $wrow) (i32.shl (local.get $in2) (i32.const 3))))
                  (f64.load (i32.add (local.get $x0) (i32.shl (local.get $in2) (i32.const 3)))))))))
            (f64.store (i32.add (local.get $yrow) (i32.shl (local.get $o) (i32.const 3))) (local.get $s0))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $o1loop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $r1loop))))

  ;; dW[o][i] += sum_r dy[r][o] * x[r][i];  db[o] += sum_r dy[r][o]   (four rows at a time, SIMD over i)
  (func (export "bwdw") (param $dy i32) (param $x i32) (param $dW i32) (param $db i32)
        (param $rows i32) (param $in i32) (param $out i32)
    (local $r i32) (local $o i32) (local $i i32) (local $in2 i32) (local $rowb i32) (local $outb i32)
    (local $xr i32) (local $dyr i32) (local $wrow i32) (local $g f64) (local $gs v128) (local $p i32)
    (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $q i32)
    (local $g1 f64) (local $g2 f64) (local $g3 f64)
    (local $gs1 v128) (local $gs2 v128) (local $gs3 v128)
    (local.set $in2 (i32.and (local.get $in) (i32.const -2)))
    (local.set $rowb (i32.shl (local.get $in) (i32.const 3)))
    (local.set $outb (i32.shl (local.get $out) (i32.const 3)))
    (local.set $r (i32.const 0))
    (block $r4done
      (loop $r4loop
        (br_if $r4done (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
        (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $x1 (i32.add (local.get $xr) (local.get $rowb)))
        (local.set $x2 (i32.add (local.get $x1) (local.get $rowb)))
        (local.set $x3 (i32.add (local.get $x2) (local.get $rowb)))
        (local.set $dyr (i32.add (local.get $dy) (i32.mul (local.get $r) (local.get $outb))))
        (local.set $o (i32.const 0))
        (block $o4done
          (loop $o4loop
            (br_if $o4done (i32.ge_s (local.get $o) (local.get $out)))
            (local.set $q (i32.add (local.get $dyr) (i32.shl (local.get $o) (i32.const 3))))
            (local.set $g (f64.load (local.get $q)))
            (local.set $g1 (f64.load (i32.add (local.get $q) (local.get $outb))))
            (local.set $g2 (f64.load (i32.add (local.get $q) (i32.shl (local.get $outb) (i32.const 1)))))
            (local.set $g3 (f64.load (i32.add (local.get $q) (i32.mul (local.get $outb) (i32.const 3)))))
            (local.set $p (i32.add (local.get $db) (i32.shl (local.get $o) (i32.const 3))))
            (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
              (f64.add (f64.add (local.get $g) (local.get $g1)) (f64.add (local.get $g2) (local.get $g3)))))
            (local.set $gs (f64x2.splat (local.get $g)))
            (local.set $gs1 (f64x2.splat (local.get $g1)))
            (local.set $gs2 (f64x2.splat (local.get $g2)))
            (local.set $gs3 (f64x2.splat (local.get $g3)))
            (local.set $wrow (i32.add (local.get $dW) (i32.mul (local.get $o) (local.get $rowb))))
            (local.set $i (i32.const 0))
            (block $i4done
              (loop $i4loop
                (br_if $i4done (i32.ge_s (local.get $i) (local.get $in2)))
                (local.set $q (i32.shl (local.get $i) (i32.const 3)))
                (local.set $p (i32.add (local.get $wrow) (local.get $q)))
                (v128.store (local.get $p) (f64x2.add (v128.load (local.get $p))
                  (f64x2.add
                    (f64x2.add
                      (f64x2.mul (local.get $gs) (v128.load (i32.add (local.get $xr) (local.get $q))))
                      (f64x2.mul (local.get $gs1) (v128.load (i32.add (local.get $x1) (local.get $q)))))
                    (f64x2.add
                      (f64x2.mul (local.get $gs2) (v128.load (i32.add (local.get $x2) (local.get $q))))
                      (f64x2.mul (local.get $gs3) (v128.load (i32.add (local.get $x3) (local.get $q))))))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $i4loop)))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $q (i32.shl (local.get $in2) (i32.const 3)))
                (local.set $p (i32.add (local.get $wrow) (local.get $q)))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p))
                  (f64.add
                    (f64.add
                      (f64.mul (local.get $g) (f64.load (i32.add (local.get $xr) (local.get $q))))
                      (f64.mul (local.get $g1) (f64.load (i32.add (local.get $x1) (local.get $q)))))
                    (f64.add
                      (f64.mul (local.get $g2) (f64.load (i32.add (local.get $x2) (local.get $q))))
                      (f64.mul (local.get $g3) (f64.load (i32.add (local.get $x3) (local.get $q))))))))))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $o4loop)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $r4loop)))
    ;; leftover rows one at a time
    (block $rdone
      (loop $rloop
        (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $dyr (i32.add (local.get $dy) (i32.mul (local.get $r) (local.get $outb))))
        (local.set $o (i32.const 0))
        (block $odone
          (loop $oloop
            (br_if $odone (i32.ge_s (local.get $o) (local.get $out)))
            (local.set $g (f64.load (i32.add (local.get $dyr) (i32.shl (local.get $o) (i32.const 3)))))
            (local.set $p (i32.add (local.get $db) (i32.shl (local.get $o) (i32.const 3))))
            (f64.store (local.get $p) (f64.add (f64.load (local.get $p)) (local.get $g)))
            (local.set $gs (f64x2.splat (local.get $g)))
            (local.set $wrow (i32.add (local.get $dW) (i32.mul (local.get $o) (local.get $rowb))))
            (local.set $i (i32.const 0))
            (block $idone
              (loop $iloop
                (br_if $idone (i32.ge_s (local.get $i) (local.get $in2)))
                (local.set $p (i32.add (local.get $wrow) (i32.shl (local.get $i) (i32.const 3))))
                (v128.store (local.get $p) (f64x2.add (v128.load (local.get $p)) (f64x2.mul (local.get $gs)
                  (v128.load (i32.add (local.get $xr) (i32.shl (local.get $i) (i32.const 3)))))))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $iloop)))
            (if (i32.lt_s (local.get $in2) (local.get $in))
              (then
                (local.set $p (i32.add (local.get $wrow) (i32.shl (local.get $in2) (i32.const 3))))
                (f64.store (local.get $p) (f64.add (f64.load (local.get $p)) (f64.mul (local.get $g)
                  (f64.load (i32.add (local.get $xr) (i32.shl (local.get $in2) (i32.const 3)))))))))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $oloop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rloop))))

  ;; dx[r][i] = (1 - h[r][i]^2) * sum_o dy[r][o] * W[o][i]: the input gradient through tanh. Eight inputs
  ;; at a time in four f64x2 accumulators that stay in registers over the sum (each W row segment loaded
  ;; once per row), then the leftover inputs one at a time. Sums run over o in order, so results do not
  ;; depend on the blocking.
  (func (export "bwdx") (param $dy i32) (param $W i32) (param $h i32) (param $dx i32)
        (param $rows i32) (param $in i32) (param $out i32)
    (local $r i32) (local $o i32) (local $i i32) (local $in8 i32) (local $rowb i32)
    (local $dxr i32) (local $hr i32) (local $dyr i32) (local $wp i32) (local $g v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $hv v128)
    (local $s f64) (local $hs f64) (local $dp i32)
    (local.set $in8 (i32.and (local.get $in) (i32.const -8)))
    (local.set $rowb (i32.shl (local.get $in) (i32.const 3)))
    (local.set $r (i32.const 0))
    (block $rdone
      (loop $rloop
        (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $dxr (i32.add (local.get $dx) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $hr (i32.add (local.get $h) (i32.mul (local.get $r) (local.get $rowb))))
        (local.set $dyr (i32.add (local.get $dy) (i32.shl (i32.mul (local.get $r) (local.get $out)) (i32.const 3))))
        (local.set $i (i32.const 0))
        (block $bdone
          (loop $bloop
            (br_if $bdone (i32.ge_s (local.get $i) (local.get $in8)))
            (local.set $a0 (v128.const f64x2 0 0))
            (local.set $a1 (v128.const f64x2 0 0))
            (local.set $a2 (v128.const f64x2 0 0))
            (local.set $a3 (v128.const f64x2 0 0))
            (local.set $wp (i32.add (local.get $W) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $o (i32.const 0))
            (block $odone
              (loop $oloop
                (br_if $odone (i32.ge_s (local.get $o) (local.get $out)))
                (local.set $g (v128.load64_splat (i32.add (local.get $dyr) (i32.shl (local.get $o) (i32.const 3)))))
                (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $g) (v128.load (local.get $wp)))))
                (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $g) (v128.load offset=16 (local.get $wp)))))
                (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $g) (v128.load offset=32 (local.get $wp)))))
                (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $g) (v128.load offset=48 (local.get $wp)))))
                (local.set $wp (i32.add (local.get $wp) (local.get $rowb)))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))
                (br $oloop)))
            (local.set $wp (i32.add (local.get $hr) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $dp (i32.add (local.get $dxr) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $hv (v128.load (local.get $wp)))
            (v128.store (local.get $dp) (f64x2.mul (local.get $a0)
              (f64x2.sub (v128.const f64x2 1 1) (f64x2.mul (local.get $hv) (local.get $hv)))))
            (local.set $hv (v128.load offset=16 (local.get $wp)))
            (v128.store offset=16 (local.get $dp) (f64x2.mul (local.get $a1)
              (f64x2.sub (v128.const f64x2 1 1) (f64x2.mul (local.get $hv) (local.get $hv)))))
            (local.set $hv (v128.load offset=32 (local.get $wp)))
            (v128.store offset=32 (local.get $dp) (f64x2.mul (local.get $a2)
              (f64x2.sub (v128.const f64x2 1 1) (f64x2.mul (local.get $hv) (local.get $hv)))))
            (local.set $hv (v128.load offset=48 (local.get $wp)))
            (v128.store offset=48 (local.get $dp) (f64x2.mul (local.get $a3)
              (f64x2.sub (v128.const f64x2 1 1) (f64x2.mul (local.get $hv) (local.get $hv)))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $bloop)))
        ;; leftover inputs
        (block $tdone
          (loop $tloop
            (br_if $tdone (i32.ge_s (local.get $i) (local.get $in)))
            (local.set $s (f64.const 0))
            (local.set $wp (i32.add (local.get $W) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $o (i32.const 0))
            (block $o1done
              (loop $o1loop
                (br_if $o1done (i32.ge_s (local.get $o) (local.get $out)))
                (local.set $s (f64.add (local.get $s) (f64.mul
                  (f64.load (i32.add (local.get $dyr) (i32.shl (local.get $o) (i32.const 3))))
                  (f64.load (local.get $wp)))))
                (local.set $wp (i32.add (local.get $wp) (local.get $rowb)))
                (local.set $o (i32.add (local.get $o) (i32.const 1)))
                (br $o1loop)))
            (local.set $hs (f64.load (i32.add (local.get $hr) (i32.shl (local.get $i) (i32.const 3)))))
            (f64.store (i32.add (local.get $dxr) (i32.shl (local.get $i) (i32.const 3)))
              (f64.mul (local.get $s) (f64.sub (f64.const 1) (f64.mul (local.get $hs) (local.get $hs)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $tloop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rloop))))
  ;; In place: v[i] = tanh(v[i]) for i in [0, n), two lanes at a time (an odd n also rewrites the one
  ;; padding double after the region, which the callers reserve). Within 3 ulp of Math.tanh (tested).
  ;; tanh|x| = E / (E + 2) with E = e^y - 1, y = 2|x| (capped at 40, where tanh is 1 in f64), and the sign
  ;; of x put back. E = 2^k (e^r - 1) + (2^k - 1) with k = round(y / ln 2), r = y - k ln 2 (Cody-Waite, two
  ;; parts, |r| <= 0.35), e^r - 1 by its Taylor series to r^13 (Estrin's scheme: short dependency chains),
  ;; and 2^k built in the exponent bits. Near 0, k = 0 and E is e^r - 1 itself, so small |x| keep full
  ;; relative precision.
  (func (export "tanh") (param $v i32) (param $n i32)
    (local $p i32) (local $end i32)
    (local $x v128) (local $y v128) (local $k v128) (local $r v128) (local $r2 v128) (local $r4 v128)
    (local $r8 v128) (local $s v128) (local $e v128)
    (local.set $p (local.get $v))
    (local.set $end (i32.add (local.get $v) (i32.shl (local.get $n) (i32.const 3))))
    (block $done
      (loop $lp
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (v128.load (local.get $p)))
        (local.set $y (f64x2.min (f64x2.add (f64x2.abs (local.get $x)) (f64x2.abs (local.get $x))) (f64x2.splat (f64.const 40.0))))
        (local.set $k (f64x2.nearest (f64x2.mul (local.get $y) (f64x2.splat (f64.const 1.4426950408889634)))))
        (local.set $r (f64x2.sub
          (f64x2.sub (local.get $y) (f64x2.mul (local.get $k) (f64x2.splat (f64.const 0.6931471803691238))))
          (f64x2.mul (local.get $k) (f64x2.splat (f64.const 1.9082149292705877e-10)))))
        (local.set $r2 (f64x2.mul (local.get $r) (local.get $r)))
        (local.set $r4 (f64x2.mul (local.get $r2) (local.get $r2)))
        (local.set $r8 (f64x2.mul (local.get $r4) (local.get $r4)))
        (local.set $s (i64x2.shl (f64x2.add (local.get $k) (f64x2.splat (f64.const 4503599627371519.0))) (i32.const 52)))
        (local.set $e (f64x2.add
          (f64x2.mul (f64x2.mul (local.get $r) (f64x2.add (f64x2.add (f64x2.add (f64x2.add (f64x2.splat (f64.const 1.0)) (f64x2.mul (f64x2.splat (f64.const 0.5)) (local.get $r))) (f64x2.mul (f64x2.add (f64x2.splat (f64.const 0.16666666666666666)) (f64x2.mul (f64x2.splat (f64.const 0.041666666666666664)) (local.get $r))) (local.get $r2))) (f64x2.mul (f64x2.add (f64x2.add (f64x2.splat (f64.const 0.008333333333333333)) (f64x2.mul (f64x2.splat (f64.const 0.001388888888888889)) (local.get $r))) (f64x2.mul (f64x2.add (f64x2.splat (f64.const 0.0001984126984126984)) (f64x2.mul (f64x2.splat (f64.const 2.48015873015873e-05)) (local.get $r))) (local.get $r2))) (local.get $r4))) (f64x2.mul (f64x2.add (f64x2.add (f64x2.add (f64x2.splat (f64.const 2.7557319223985893e-06)) (f64x2.mul (f64x2.splat (f64.const 2.755731922398589e-07)) (local.get $r))) (f64x2.mul (f64x2.add (f64x2.splat (f64.const 2.505210838544172e-08)) (f64x2.mul (f64x2.splat (f64.const 2.08767569878681e-09)) (local.get $r))) (local.get $r2))) (f64x2.mul (f64x2.splat (f64.const 1.6059043836821613e-10)) (local.get $r4))) (local.get $r8)))) (local.get $s))
          (f64x2.sub (local.get $s) (f64x2.splat (f64.const 1.0)))))
        (v128.store (local.get $p) (v128.or
          (f64x2.div (local.get $e) (f64x2.add (local.get $e) (f64x2.splat (f64.const 2.0))))
          (v128.and (local.get $x) (v128.const i64x2 0x8000000000000000 0x8000000000000000))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $lp))))
)
