package io.telefork.api.v1alpha1;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ImageFilesTest {

    @Test
    void nameIsBuiltFromNamespaceNameAndUid() {
        assertThat(ImageFiles.fileName("default", "ckpt-1", "0F1e2d3c-0000-4000-8000-000000000001"))
                .isEqualTo("default_ckpt-1_0f1e2d3c-0000-4000-8000-000000000001.tfimg");
    }

    @Test
    void anythingThatCouldLeaveTheDirectoryIsRefused() {
        String uid = "0f1e2d3c-0000-4000-8000-000000000001";
        for (String[] bad : new String[][] {
                {"..", "c", uid}, {"default", "../etc", uid}, {"default", "a/b", uid}, {"default", "c", "../x"},
                {"default", "", uid}, {"Default", "c", uid}, {"default", "c", null}, {null, "c", uid},
                {"default", "c", uid + "/.."}}) {
            assertThatThrownBy(() -> ImageFiles.fileName(bad[0], bad[1], bad[2]))
                    .as(String.join(",", String.valueOf(bad[0]), String.valueOf(bad[1]), String.valueOf(bad[2])))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void conditionTransitionTimeMovesOnlyWhenStatusFlips() {
        CheckpointStatus s = new CheckpointStatus();
        s.setCondition(new Condition(Condition.READY, false, Reason.Accepted, "a"), "t1");
        s.setCondition(new Condition(Condition.READY, false, Reason.NodeWorkCreated, "b"), "t2");
        assertThat(s.condition(Condition.READY).orElseThrow().getLastTransitionTime()).isEqualTo("t1");
        s.setCondition(new Condition(Condition.READY, true, Reason.Dumped, "c"), "t3");
        assertThat(s.condition(Condition.READY).orElseThrow().getLastTransitionTime()).isEqualTo("t3");
        assertThat(s.getConditions()).hasSize(1);
    }
}
