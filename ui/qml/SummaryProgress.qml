// The running document summary: which file, what step, how long is left, and Cancel. Hidden
// when no document is being read or summarized.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: bar
    objectName: "summaryProgress"
    required property QtObject theme
    required property QtObject controller    // documents::DocumentController

    visible: controller.busy
    implicitHeight: visible ? content.implicitHeight + 16 : 0
    color: theme.alternateBase
    border.color: theme.border

    ColumnLayout {
        id: content
        anchors.fill: parent
        anchors.margins: 8
        spacing: 4

        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                text: bar.controller.progressText
                elide: Text.ElideRight
                color: bar.theme.text
            }
            Label {
                visible: bar.controller.pendingFiles > 0
                text: bar.controller.pendingFiles + " more waiting"
                color: bar.theme.subtle
            }
            Button {
                objectName: "cancelSummary"
                text: "Cancel"
                onClicked: bar.controller.cancel()
            }
        }
        ProgressBar {
            Layout.fillWidth: true
            from: 0
            to: 1
            indeterminate: bar.controller.progress < 0
            value: Math.max(0, bar.controller.progress)
        }
    }
}
